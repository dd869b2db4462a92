"""A month of reviews, simulated: does retraining on reviewer decisions raise a weak class on photos nobody trained on?

    python -m benchmarks.review_month [--epochs 4] [--fraction 0.08] [--imgsz 640] [--out runs/review-month]

The starter model is weakest on exposed garbage in garbage-street scenes. Every labelled garbage-street photo is in
base-v2 already, so half of base-v2's garbage-street *validation* photos (by image hash) are held back as the
"month": the other half stays in the frozen benchmark, and the held-back half leaves it (`base-v2-holdout`, whose
train split is base-v2's). For each held-back photo the current model's detections go to a real server as
sightings (the untouched photo as evidence) and a simulated reviewer decides from the photo's true labels:

- a detection that matches a true box (IoU ≥ 0.5): confirm it (same class, IoU ≥ 0.7), fix its box (same class),
  or relabel it (another class);
- a detection that matches nothing: reject it (a hard negative);
- a true object no detection at the review threshold found: if the model saw it below the threshold (IoU ≥ 0.3 at
  confidence ≥ 0.05, as an edge track's low floor would), that proposal is fixed to the true box; otherwise nobody
  could review it, and it stays unlabelled on its frame (counted and reported: review labels are partial).

Then `streetwatch dataset from-reviews` and `streetwatch retrain` (CPU: `--fraction` of the base replayed with
every reviewed frame) run as a model engineer would, and a control retrain does the same with the reviewed frames
taken out, so that what the reviews add is told apart from what more fine-tuning adds. Prints a table of AP50 on the
frozen benchmark's garbage-street photos and overall, before and after, for the candidate and the control.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from datasets.manifest import read_manifest
from datasets.yolo import read_labels
from models.hardware import cpu_name
from vision.images import load_image
from vision.nms import box_iou

REPO = Path(__file__).resolve().parents[1]
BASE = REPO / "data" / "datasets" / "base-v2"


def held_back(entry_sha: str) -> bool:
    return int(entry_sha[:8], 16) % 2 == 0


def make_holdout(base: Path, target: Path) -> list[Any]:
    """`base` without its held-back garbage-street validation photos (links, not copies); those entries."""
    manifest = read_manifest(base)
    month = [
        e for e in manifest.entries if e.split == "val" and e.source == "garbage-street" and held_back(e.image_sha256)
    ]
    skip = {e.image for e in month} | {e.label for e in month}
    if target.exists():
        shutil.rmtree(target)
    for kind in ("images", "labels"):
        (target / kind).mkdir(parents=True)
        (target / kind / "train").symlink_to(base / kind / "train", target_is_directory=True)
        (target / kind / "val").mkdir()
        for file in (base / kind / "val").iterdir():
            if f"{kind}/val/{file.name}" not in skip and file.suffix != ".cache":
                (target / kind / "val" / file.name).symlink_to(file)
    shutil.copyfile(base / "data.yaml", target / "data.yaml")
    kept = tuple(e for e in manifest.entries if e.image not in skip)
    manifest.model_copy(update={"name": target.name, "parent": manifest.name, "entries": kept}).write(target)
    return month


def review_month(month: list[Any], base: Path, data_dir: Path) -> dict[str, int]:
    """Post the current model's sightings of the month's photos to a real server and decide on each."""
    from fastapi.testclient import TestClient

    from inference_server.app import create_app
    from inference_server.settings import Settings
    from models.registry import current_model, load_detector, versioned
    from tests.ui_world import PASSWORD, add_people
    from vision.yolo_head import DetectionSettings

    settings = Settings(data_dir=data_dir)
    key = add_people(settings, "car-month")
    model = current_model()
    detector = load_detector(model, settings=DetectionSettings(confidence_threshold=0.05))
    names = detector.class_names
    counts = dict.fromkeys(("confirm", "fix_box", "relabel", "reject", "unreviewable objects", "objects"), 0)
    with TestClient(create_app(settings)) as http:
        token = http.post("/api/v1/auth/token", data={"username": "reviewer", "password": PASSWORD}).json()
        reviewer = {"Authorization": f"Bearer {token['access_token']}"}
        for index, entry in enumerate(month):
            image = load_image(base / entry.image)
            h, w = image.shape[:2]
            labels, _ = read_labels(base / entry.label, len(names))
            truth, truth_class = labels.xyxy(w, h), list(labels.class_ids)
            counts["objects"] += len(truth)
            found = detector.detect(image)
            sure = found.confidence >= 0.25
            proposals: list[tuple[np.ndarray, int, float, dict[str, Any]]] = []
            matched: set[int] = set()
            for box, cls, score in zip(found.xyxy[sure], found.class_id[sure], found.confidence[sure], strict=True):
                ious = box_iou(box[None], truth)[0] if len(truth) else np.zeros(0)
                best = int(np.argmax(ious)) if len(ious) else -1
                if best < 0 or ious[best] < 0.5 or best in matched:
                    proposals.append((box, int(cls), float(score), {"action": "reject"}))
                    continue
                matched.add(best)
                if int(cls) != truth_class[best]:
                    decision = {"action": "relabel", "class_name": names[truth_class[best]]}
                elif ious[best] >= 0.7:
                    decision = {"action": "confirm"}
                else:
                    decision = {"action": "fix_box", "box": [float(v) for v in truth[best]]}
                proposals.append((box, int(cls), float(score), decision))
            for t, (true_box, true_cls) in enumerate(zip(truth, truth_class, strict=True)):
                if t in matched:
                    continue
                low = (~sure) & (found.class_id == true_cls)
                ious = box_iou(true_box[None], found.xyxy[low])[0] if low.any() else np.zeros(0)
                if len(ious) and ious.max() >= 0.3:
                    j = int(np.argmax(ious))
                    proposals.append((found.xyxy[low][j], true_cls, float(found.confidence[low][j]),
                                      {"action": "fix_box", "box": [float(v) for v in true_box]}))  # fmt: skip
                else:
                    counts["unreviewable objects"] += 1
            frame = (base / entry.image).read_bytes()
            for n, (box, cls, score, decision) in enumerate(proposals):
                x0, y0, x1, y1 = (int(v) for v in box)
                crop = _jpeg(image[max(y0, 0) : max(y1, y0 + 1), max(x0, 0) : max(x1, x0 + 1)])
                record = {
                    "sighting_id": f"month-{index}-{n}", "class_name": names[cls], "score": score, "frames": 3,
                    "first_time": 1.79e9 + index, "last_time": 1.79e9 + index + 1, "best_time": 1.79e9 + index,
                    "box": [float(v) for v in box], "frame": {"sha256": hashlib.sha256(frame).hexdigest()},
                    "crop": {"sha256": hashlib.sha256(crop).hexdigest()}, "model": versioned(model),
                    "source": entry.source_image, "run": "review-month",
                }  # fmt: skip
                files = {"frame": ("frame.jpg", frame, "image/jpeg"), "crop": ("crop.jpg", crop, "image/jpeg")}
                stored = http.post("/api/v1/sightings", data={"metadata": json.dumps(record)}, files=files,
                                   headers={"X-API-Key": key})  # fmt: skip
                stored.raise_for_status()
                answer = http.post(f"/api/v1/sightings/{stored.json()['id']}/decision", json=decision, headers=reviewer)
                answer.raise_for_status()
                counts[decision["action"]] += 1
    return counts


def _jpeg(image: np.ndarray) -> bytes:
    import cv2

    return bytes(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes())


def without_reviews(reviews: Path, target: Path) -> Path:
    """The control: the same review version with its reviewed frames taken out (the base replay stays)."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(reviews, target, symlinks=True)
    for kind in ("images", "labels"):
        for file in (target / kind / "train").iterdir():
            file.unlink()
    return target


def ap50(evaluation: dict[str, Any], source: str | None, name: str) -> float | None:
    rows = evaluation["classes"] if source is None else evaluation["by_source"].get(source, [])
    return next((r["ap50"] for r in rows if r["name"] == name), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--fraction", type=float, default=0.08)
    parser.add_argument("--imgsz", type=int, default=640)
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "review-month")
    args = parser.parse_args()
    from typer.testing import CliRunner

    from streetwatch.cli import app

    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("STREETWATCH_REGISTRY_DIR", str(args.out / "registry"))
    holdout = REPO / "data" / "datasets" / "base-v2-holdout"
    month = make_holdout(BASE, holdout)
    data_dir = Path(tempfile.mkdtemp(prefix="review-month-"))
    started = time.perf_counter()
    counts = review_month(month, BASE, data_dir)
    os.environ["STREETWATCH_DATA_DIR"] = str(data_dir)
    reviews = args.out / "reviews-month"
    if reviews.exists():
        shutil.rmtree(reviews)
    runner = CliRunner()
    done = runner.invoke(app, ["dataset", "from-reviews", "--parent", str(holdout), "--out", str(reviews),
                               "--benchmark-share", "0"])  # fmt: skip
    if done.exit_code:
        raise SystemExit(done.output)
    results = {}
    for label, version in (("candidate", reviews), ("control", without_reviews(reviews, args.out / "control"))):
        done = runner.invoke(
            app,
            [
                "retrain",
                "--base",
                str(holdout),
                "--reviews",
                str(version),
                "--imgsz",
                str(args.imgsz),
                "--epochs",
                str(args.epochs),
                "--fraction",
                str(args.fraction),
                "--device",
                "cpu",
                "--margin",
                "0",
                "--min-gain",
                "1",  # never promoted: the
                "--runs",
                str(args.out / f"retrain-{label}"),
            ],
        )  # control starts from the same model
        if done.exit_code:
            raise SystemExit(done.output)
        cards = sorted((args.out / "registry").rglob("card.json"), key=lambda p: p.stat().st_mtime)
        results[label] = json.loads(cards[-1].read_text())["evaluation"]
    print(f"{cpu_name()}; {len(month)} held-back garbage-street photos, {counts['objects']} true objects; "
          f"decisions: {json.dumps({k: v for k, v in counts.items() if k != 'objects'})}; "
          f"{args.epochs} epochs at {args.imgsz} px on {args.fraction:.0%} of the base + the reviewed frames; "
          f"{time.perf_counter() - started:.0f} s\n")  # fmt: skip
    before = results["candidate"]["current"]
    columns = {"before (current model)": before, "after: candidate (reviews)": results["candidate"]["candidate"],
               "after: control (no reviews)": results["control"]["candidate"]}  # fmt: skip
    print("| AP50 on the frozen benchmark | " + " | ".join(columns) + " |\n|---|" + "---:|" * len(columns))
    rows = [("exposed_garbage, garbage-street photos", "garbage-street", "exposed_garbage")]
    rows += [(f"{name}, all photos", None, name) for name in ("exposed_garbage", "overflowing_bin", "illegal_ad",
                                                              "street_stall", "dirty_facade")]  # fmt: skip
    for title, source, name in rows:
        values = [ap50(evaluation, source, name) for evaluation in columns.values()]
        print(f"| {title} | " + " | ".join("-" if v is None else f"{v:.3f}" for v in values) + " |")


if __name__ == "__main__":
    main()
