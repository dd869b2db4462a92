"""The retraining loop end to end on CPU: sightings of the current model on real photos → reviewer decisions through
the API → `dataset from-reviews` → `retrain` (1 epoch at 160 px) → comparison report → gate → registry → hot swap."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from fastapi.testclient import TestClient
from sqlmodel import Session
from typer.testing import CliRunner

from datasets.fingerprints import sha256_file
from datasets.manifest import read_manifest
from datasets.reviews import benchmark_split
from datasets.yolo import read_labels
from inference_server.app import create_app
from inference_server.auth import add_user
from inference_server.db import create_schema, make_engine
from inference_server.devices import add_device
from inference_server.settings import Settings
from models.registry import DEFAULT_MODEL, current_model, load_detector, versioned
from streetwatch.cli import app
from tests.conftest import REPO_ROOT
from tests.offline_probe import tiny_dataset
from vision.images import load_image
from vision.taxonomy import load_taxonomy

PHOTOS = [REPO_ROOT / "samples" / "images" / name for name in (
    "facades-spb__img_116.jpg", "facades-spb__img_121.jpg", "garbage-cn__000053.jpg", "facades-spb__img_14.jpg",
    "garbage-street__img174.jpg", "facades-spb__img_164.jpg",
)]  # fmt: skip
# what the reviewer does with the current model's best detection on each photo
DECISIONS = [
    {"action": "confirm"},
    {"action": "reject"},
    {"action": "relabel", "class_name": "overflowing_bin"},
    {"action": "fix_box", "box": [10.0, 20.0, 200.0, 180.0]},
    {"action": "confirm"},  # its evidence file is altered on disk afterwards: refused
    {"action": "reject"},
]
PASSWORD = "correct horse battery"


def _jpeg(image: np.ndarray) -> bytes:
    return bytes(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes())


def _seed(http: TestClient, key: str) -> list[int]:
    """One sighting per photo: the current model's most confident detection, the photo as its evidence frame."""
    detector = load_detector(current_model())
    ids = []
    for index, photo in enumerate(PHOTOS):
        image = load_image(photo)
        found = detector.detect(image)
        best = int(np.argmax(found.confidence)) if len(found) else None
        box = [float(v) for v in found.xyxy[best]] if best is not None else [5.0, 5.0, 100.0, 100.0]
        name = detector.class_names[int(found.class_id[best])] if best is not None else "illegal_ad"
        frame = photo.read_bytes()
        crop = _jpeg(image[int(box[1]) : int(box[3]) + 1, int(box[0]) : int(box[2]) + 1])
        record = {
            "sighting_id": f"review-{index}", "class_name": name,
            "score": float(found.confidence[best]) if best is not None else 0.3, "frames": 3,
            "first_time": 1000.0 + index, "last_time": 1001.0 + index, "best_time": 1000.5 + index, "box": box,
            "frame": {"sha256": hashlib.sha256(frame).hexdigest()},
            "crop": {"sha256": hashlib.sha256(crop).hexdigest()},
            "model": versioned(current_model()), "source": "test",
        }  # fmt: skip
        files = {"frame": ("frame.jpg", frame, "image/jpeg"), "crop": ("crop.jpg", crop, "image/jpeg")}
        response = http.post("/api/v1/sightings", data={"metadata": json.dumps(record)}, files=files,
                             headers={"X-API-Key": key})  # fmt: skip
        assert response.status_code == 201, response.text
        assert response.json()["model"] == f"{DEFAULT_MODEL}@{versioned(DEFAULT_MODEL).split('@')[1]}"
        ids.append(response.json()["id"])
    return ids


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path / "server")
    monkeypatch.setenv("STREETWATCH_DATA_DIR", str(settings.data_dir))
    key = add_device(settings, "car-1", "patrol_car")
    engine = make_engine(settings.url)
    create_schema(engine)
    with Session(engine) as session:
        add_user(session, "rev", PASSWORD, "reviewer")
    engine.dispose()
    with TestClient(create_app(settings)) as http:
        token = http.post("/api/v1/auth/token", data={"username": "rev", "password": PASSWORD}).json()["access_token"]
        yield http, key, {"Authorization": f"Bearer {token}"}, settings


def test_reviews_become_a_dataset_version_and_a_gated_candidate(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    http, key, reviewer, settings = server
    ids = _seed(http, key)
    queue = http.get("/api/v1/review/queue", headers=reviewer, params={"order": "informative"})
    assert queue.status_code == 200 and sorted(s["id"] for s in queue.json()) == sorted(ids)
    for sighting_id, decision in zip(ids, DECISIONS, strict=True):
        response = http.post(f"/api/v1/sightings/{sighting_id}/decision", json=decision, headers=reviewer)
        assert response.status_code == 200, response.text
    rows = {s: http.get(f"/api/v1/sightings/{s}", headers={"X-API-Key": key}).json() for s in ids}
    tampered = settings.evidence_dir / rows[ids[4]]["frame_sha256"][:2] / f"{rows[ids[4]]['frame_sha256']}.jpg"
    tampered.write_bytes(tampered.read_bytes() + b"altered")

    base = tiny_dataset(tmp_path / "base", REPO_ROOT / "samples")
    out = tmp_path / "versions" / "reviews-v1"
    runner = CliRunner()
    exported = runner.invoke(app, ["dataset", "from-reviews", "--since", "2000-01-01", "--parent", str(base),
                                   "--out", str(out), "--benchmark-share", "0.5"])  # fmt: skip
    assert exported.exit_code == 0, exported.output
    assert "refused frame" in exported.output and rows[ids[4]]["frame_sha256"] in exported.output

    manifest = read_manifest(out)
    assert manifest.parent == "tiny-v1" and len(manifest.review_decisions) == 5  # the refused one is left out
    names = load_taxonomy().names
    by_sha = {e.image_sha256: e for e in manifest.entries}
    assert set(by_sha) == {rows[s]["frame_sha256"] for s in ids if s != ids[4]}
    for sighting_id, decision in zip(ids, DECISIONS, strict=True):
        row = rows[sighting_id]
        if sighting_id == ids[4]:
            continue
        entry = by_sha[row["frame_sha256"]]
        assert entry.split == benchmark_split(row["frame_sha256"], 0.5)
        image = load_image(out / entry.image)
        h, w = image.shape[:2]
        labels, issues = read_labels(out / entry.label, len(names))
        assert not issues
        if decision["action"] == "reject":
            assert len(labels.class_ids) == 0 and entry.boxes == {}  # a hard negative: the frame, no box
            continue
        expected_class = decision.get("class_name", row["class_name"])
        expected_box = decision.get("box", row["box"])
        assert [names[i] for i in labels.class_ids] == [expected_class]
        np.testing.assert_allclose(labels.xyxy(w, h)[0], np.clip(expected_box, 0, [w, h, w, h]), atol=0.05)

    # a permissive gate by construction (no class may lose more than 1.0, any mean counts): promoted
    registry = Path(__import__("os").environ["STREETWATCH_REGISTRY_DIR"])
    before = versioned(current_model())
    result = runner.invoke(app, ["retrain", "--base", str(base), "--reviews", str(out), "--imgsz", "160",
                                 "--epochs", "1", "--batch", "4", "--workers", "0", "--device", "cpu",
                                 "--margin", "1", "--min-gain", "-1", "--runs", str(tmp_path / "runs")])  # fmt: skip
    assert result.exit_code == 0, result.output
    candidate = f"{DEFAULT_MODEL}@{before.split('@')[1]}-r1"
    assert f"{candidate}: promoted" in result.output
    folder = registry / DEFAULT_MODEL / f"{before.split('@')[1]}-r1"
    card = json.loads((folder / "card.json").read_text())
    assert card["status"] == "promoted" and card["parent"] == before
    assert card["training"]["dataset"]["name"] == "reviews-v1" and card["training"]["dataset"]["parent"] == "tiny-v1"
    for side in ("current", "candidate"):
        ap = {c["name"]: c["ap50"] for c in card["evaluation"][side]["classes"]}
        assert ap["exposed_garbage"] is not None  # numbers for both models on the same benchmark
    report = (folder / "comparison.md").read_text()
    assert "AP50 current" in report and "Gate: PROMOTED" in report and (folder / "comparison.png").stat().st_size
    assert current_model() == candidate
    served = http.get("/api/v1/models/current", headers={"X-API-Key": key}).json()
    assert served["reference"] == candidate and served["files"]["model.int8.onnx"]["sha256"]

    # the same candidate under the default gate rule: its decision follows the rule from its own numbers
    from models.gate import GateRule, gate

    ap50 = {s: {c["name"]: c["ap50"] for c in card["evaluation"][s]["classes"]} for s in ("current", "candidate")}
    strict = gate(ap50["candidate"], ap50["current"], GateRule(margin=0.0, min_gain=1.0))
    assert not strict.promote and any("gain not above" in r for r in strict.reasons)

    rolled = runner.invoke(app, ["models", "rollback"])
    assert rolled.exit_code == 0 and current_model() == DEFAULT_MODEL
    listed = runner.invoke(app, ["models", "list"])
    assert f"{candidate}  rolled_back" in listed.output

    # the same run judged as if trained elsewhere (a lent GPU): no training, the same weights, a new version
    run = tmp_path / "runs" / f"{DEFAULT_MODEL}-{before.split('@')[1]}-r1" / "train"
    judged = runner.invoke(app, ["retrain", "--base", str(base), "--reviews", str(out), "--imgsz", "160",
                                 "--trained", str(run), "--margin", "1", "--min-gain", "-1",
                                 "--runs", str(tmp_path / "runs")])  # fmt: skip
    assert judged.exit_code == 0, judged.output
    again = json.loads((registry / DEFAULT_MODEL / f"{before.split('@')[1]}-r2" / "card.json").read_text())
    assert again["training"]["run"] == str(run)
    assert again["evaluation"]["candidate"]["classes"] == card["evaluation"]["candidate"]["classes"]
    assert not (tmp_path / "runs" / f"{DEFAULT_MODEL}-{before.split('@')[1]}-r2" / "train").exists()


def test_a_run_trained_elsewhere_is_judged_only_from_the_current_model_on_the_same_reviews(tmp_path: Path) -> None:
    from models.retrain import check_trained_run

    init, reviews, run = tmp_path / "init.pt", tmp_path / "reviews", tmp_path / "run"
    init.write_bytes(b"current weights")
    reviews.mkdir()
    (reviews / "manifest.json").write_text('{"name": "reviews-v1"}')
    (run / "weights").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"weights/last\.pt and run\.json"):
        check_trained_run(run, init, reviews)
    (run / "weights" / "last.pt").write_bytes(b"candidate weights")
    info = {
        "init": {"sha256": sha256_file(init)},
        "dataset": {"manifest_sha256": sha256_file(reviews / "manifest.json")},
    }
    (run / "run.json").write_text(json.dumps(info))
    check_trained_run(run, init, reviews)
    init.write_bytes(b"another model")
    with pytest.raises(ValueError, match="did not start from the current model"):
        check_trained_run(run, init, reviews)
    init.write_bytes(b"current weights")
    (reviews / "manifest.json").write_text('{"name": "reviews-v2"}')
    with pytest.raises(ValueError, match="manifest hash differs"):
        check_trained_run(run, init, reviews)


def test_a_smaller_budget_shrinks_the_replay_never_the_reviewed_frames(tmp_path: Path) -> None:
    from models.retrain import replay_subset

    for folder, names in (("base/images/train", "abcdefgh"), ("base/images/val", "v"), ("reviews/images/train", "r"),
                          ("reviews/images/val", "")):  # fmt: skip
        (tmp_path / folder).mkdir(parents=True)
        for name in names:
            (tmp_path / folder / f"{name}.jpg").write_bytes(b"jpeg")
    reviews = tmp_path / "reviews"
    (reviews / "data.yaml").write_text(
        "train: [../base/images/train, images/train]\nval: [../base/images/val, images/val]\nnames:\n  0: illegal_ad\n"
    )
    (reviews / "manifest.json").write_text("{}")
    (tmp_path / "work").mkdir()
    subset = replay_subset(reviews, 0.25, tmp_path / "work", repeat=3)
    listed = (subset / "train.txt").read_text().split()
    reviewed = str((reviews / "images/train/r.jpg").resolve())
    assert listed.count(reviewed) == 3  # ultralytics' own fraction would drop it; repeat weighs it up
    assert len(listed) == 3 + 2  # the reviewed frame 3 times and a quarter of the 8 base images
    spec = yaml.safe_load((subset / "data.yaml").read_text())
    assert spec["val"] == [str((tmp_path / "base/images/val").resolve()), str((reviews / "images/val").resolve())]
    assert (subset / "manifest.json").read_text() == "{}"


def test_a_relative_registry_folder_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # its paths go into training configs, which resolve relative paths against their own folder
    from models.versions import registry_dir

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STREETWATCH_REGISTRY_DIR", "work/registry")
    assert registry_dir() == tmp_path.resolve() / "work" / "registry"
