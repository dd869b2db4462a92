"""A month of reviews, simulated: does retraining on reviewer decisions raise a weak class on photos nobody trained on?

    python -m benchmarks.review_month [--halves a] [--epochs 4] [--fraction 0.08] [--repeat 1] [--lr0 0.001]
                                      [--imgsz 640] [--out runs/review-month]
    python -m benchmarks.review_month --halves a b --epochs 4 --repeat 8 --fraction 1 --lr0 0.0005 \
        --kit .gpu/month.tar                                                  # for a lent GPU
    python -m benchmarks.review_month --halves a b --epochs 4 --repeat 8 --fraction 1 --lr0 0.0005 \
        --trained DIR                                                         # judge the runs it brought back

The starter model is weakest on exposed garbage in garbage-street scenes. Every labelled garbage-street photo is in
base-v2 already, so half of base-v2's garbage-street *validation* photos (by image hash: half `a` or `b`) are held
back as the "month": the other half stays in the frozen benchmark, and the held-back half leaves it
(`base-v2-holdout-<half>`, whose train split is base-v2's). With both halves, each is the month once and the
benchmark once: two experiments on disjoint photos. For each held-back photo the current model's detections go to a
real server as sightings (the untouched photo as evidence) and a simulated reviewer decides from its true labels:

- a detection that matches a true box (IoU ≥ 0.5): confirm it (same class, IoU ≥ 0.7), fix its box (same class),
  or relabel it (another class);
- a detection that matches nothing: reject it (a hard negative);
- a true object no detection at the review threshold found: if the model saw it below the threshold (IoU ≥ 0.3 at
  confidence ≥ 0.05, as an edge track's low floor would), that proposal is fixed to the true box; otherwise nobody
  could review it, and it stays unlabelled on its frame (counted and reported: review labels are partial).

Then `streetwatch dataset from-reviews` and `streetwatch retrain` (`--fraction` of the base replayed with every
reviewed frame `--repeat` times) run as a model engineer would, and one control fine-tune does the same on the base
alone (the same epochs and settings; it serves both halves, whose training splits are the same), so that what the
reviews add is told apart from what more fine-tuning adds. Prints, per half, AP50 on the frozen benchmark's
garbage-street photos and overall: before, the candidate and the control.

On a lent GPU the training moves there: `--kit` writes the review versions and the settings into a tar for
`scripts/gpu/starter.sh month` (which needs base-v2's shards unpacked), and `--trained DIR` judges the runs it
brought back (DIR/candidate-<half>, DIR/control) against the review versions the kit carried (kept in --out), and
`retrain --trained` checks each run started from the current model on exactly that review version.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from datasets.manifest import read_manifest
from datasets.yolo import read_labels
from models.hardware import cpu_name
from vision.images import load_image
from vision.nms import box_iou

REPO = Path(__file__).resolve().parents[1]
BASE = REPO / "data" / "datasets" / "base-v2"


HALVES = ("a", "b")


def in_half(entry_sha: str, half: str) -> bool:
    return int(entry_sha[:8], 16) % 2 == HALVES.index(half)


def make_holdout(base: Path, target: Path, half: str) -> list[Any]:
    """`base` without one half of its garbage-street validation photos (links, not copies); those entries."""
    manifest = read_manifest(base)
    month = [
        e
        for e in manifest.entries
        if e.split == "val" and e.source == "garbage-street" and in_half(e.image_sha256, half)
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


def review_month(month: list[Any], base: Path, data_dir: Path, model: str) -> dict[str, int]:
    """Post the current model's sightings of the month's photos to a real server and decide on each."""
    from fastapi.testclient import TestClient

    from inference_server.app import create_app
    from inference_server.settings import Settings
    from models.registry import load_detector, versioned
    from testbed.people import PASSWORD, add_people
    from vision.yolo_head import DetectionSettings

    settings = Settings(data_dir=data_dir)
    key = add_people(settings, "car-month")
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


def ap50(evaluation: dict[str, Any], source: str | None, name: str) -> float | None:
    rows = evaluation["classes"] if source is None else evaluation["by_source"].get(source, [])
    return next((r["ap50"] for r in rows if r["name"] == name), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--halves", nargs="+", choices=HALVES, default=["a"])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--fraction", type=float, default=0.08)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--lr0", type=float, default=0.001)
    parser.add_argument("--imgsz", type=int, default=640)
    parser.add_argument("--kit", type=Path, help="write the GPU kit here and stop")
    parser.add_argument("--trained", type=Path, help="judge the runs a lent GPU trained (candidate-<half>, control)")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "review-month")
    args = parser.parse_args()
    args.out = args.out.resolve()
    log_outside_cli_runs()
    from models.registry import current_model, versioned

    model = versioned(current_model())
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("STREETWATCH_REGISTRY_DIR", str(args.out / "registry"))
    started = time.perf_counter()
    # judging runs trained elsewhere: the review versions they trained on, not new ones (their manifests differ)
    months = {half: (prepared if args.trained else prepare)(half, model, args.out) for half in args.halves}
    settings = {"epochs": args.epochs, "fraction": args.fraction, "repeat": args.repeat, "lr0": args.lr0,
                "imgsz": args.imgsz, "model": model, "halves": args.halves}  # fmt: skip
    if args.kit:
        write_kit(args.kit, args.out, settings)
        print(f"wrote {args.kit}: review versions {', '.join(f'reviews-{h}' for h in args.halves)} and {settings}")
        return
    first = args.halves[0]
    control = args.trained / "control" if args.trained else train_control(
        holdout_of(first), args.out / f"reviews-{first}", args.out, model, settings
    )  # fmt: skip
    for half, (month, counts) in months.items():
        holdout = holdout_of(half)
        trained = args.trained / f"candidate-{half}" if args.trained else None
        evaluation = retrain_and_judge(holdout, args.out / f"reviews-{half}", args.out / f"retrain-{half}", settings,
                                       trained)  # fmt: skip
        control_evaluation = evaluate_control(control, holdout, args.out / f"reviews-{half}", settings)
        where = f"a lent GPU ({args.trained})" if args.trained else "this machine"
        print(f"\nHalf {half}: {cpu_name()} (judging), training on {where}; {len(month)} held-back garbage-street "
              f"photos, {counts['objects']} true objects; decisions: "
              f"{json.dumps({k: v for k, v in counts.items() if k != 'objects'})}; {args.epochs} epochs at "
              f"{args.imgsz} px, AdamW lr {args.lr0}, {args.fraction:.0%} of the base + each reviewed frame "
              f"{args.repeat}×; {time.perf_counter() - started:.0f} s so far\n")  # fmt: skip
        columns = {f"before ({model})": evaluation["current"], "after: candidate (reviews)": evaluation["candidate"],
                   "after: control (no reviews)": control_evaluation}  # fmt: skip
        rows: list[tuple[str, str | None, str]] = [
            ("exposed_garbage, garbage-street photos", "garbage-street", "exposed_garbage")
        ]
        rows += [(f"{name}, all photos", None, name) for name in ("exposed_garbage", "overflowing_bin", "illegal_ad",
                                                                  "street_stall", "dirty_facade")]  # fmt: skip
        print_ap50_table(columns, rows)
        print(f"\nGate (margin 0.02, mean must rise): {evaluation['gate']}")


def log_outside_cli_runs() -> None:
    """Logging to the real stderr, set up before any CLI command runs in-process: the command's basicConfig would bind
    the root logger to the runner's own stdout, closed once it returns (and ultralytics binds its handler at import)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from vision.ultralytics_env import import_ultralytics

    import_ultralytics()


def holdout_of(half: str) -> Path:
    return REPO / "data" / "datasets" / f"base-v2-holdout-{half}"


def cli(*arguments: str) -> None:
    """Run a `streetwatch` command in-process, as a model engineer would on the command line; stop if it fails."""
    from typer.testing import CliRunner

    from streetwatch.cli import app

    done = CliRunner().invoke(app, list(arguments))
    if done.exit_code:
        raise SystemExit(done.output)


def review_and_export(month: list[Any], model: str, parent: Path, reviews: Path) -> dict[str, int]:
    """`month` reviewed through a real server (`review_month`), then `dataset from-reviews` on `parent` → `reviews`."""
    data_dir = Path(tempfile.mkdtemp(prefix="review-month-"))
    counts = review_month(month, BASE, data_dir, model)
    if reviews.exists():
        shutil.rmtree(reviews)
    os.environ["STREETWATCH_DATA_DIR"] = str(data_dir)
    cli("dataset", "from-reviews", "--parent", str(parent), "--out", str(reviews), "--benchmark-share", "0")
    return counts


def print_ap50_table(columns: dict[str, dict[str, Any]], rows: list[tuple[str, str | None, str]]) -> None:
    """A Markdown table: one column per evaluation, one row per (title, source or None for all photos, class)."""
    print("| AP50 on the frozen benchmark | " + " | ".join(columns) + " |\n|---|" + "---:|" * len(columns))
    for title, source, name in rows:
        values = [ap50(e, source, name) for e in columns.values()]
        print(f"| {title} | " + " | ".join("-" if v is None else f"{v:.3f}" for v in values) + " |")


def prepare(half: str, model: str, out: Path) -> tuple[list[Any], dict[str, int]]:
    """The holdout for `half`, the month reviewed through a real server, `dataset from-reviews` → reviews-<half>."""
    holdout = holdout_of(half)
    month = make_holdout(BASE, holdout, half)
    counts = review_and_export(month, model, holdout, out / f"reviews-{half}")
    record = {"model": model, "month": [e.image for e in month], "counts": counts}
    (out / f"month-{half}.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
    return month, counts


def prepared(half: str, model: str, out: Path) -> tuple[list[Any], dict[str, int]]:
    """What `prepare` made for `half` earlier (the version a kit carried), with the holdout's links rebuilt."""
    record = json.loads((out / f"month-{half}.json").read_text(encoding="utf-8"))
    if record["model"] != model:
        raise SystemExit(f"reviews-{half} holds reviews of {record['model']}, but the current model is {model}")
    month = make_holdout(BASE, holdout_of(half), half)
    if sorted(e.image for e in month) != sorted(record["month"]):
        raise SystemExit(f"half {half} of base-v2 is not the month reviews-{half} was made from")
    return month, record["counts"]


def write_kit(kit: Path, out: Path, settings: dict[str, Any]) -> None:
    """reviews-<half>/ (frames, labels, manifest) and settings.json in one tar for scripts/gpu/starter.sh month."""
    import tarfile

    (out / "settings.json").write_text(json.dumps(settings, indent=2), encoding="utf-8")
    kit.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(kit, "w") as tar:
        tar.add(out / "settings.json", arcname="month/settings.json")
        for half in settings["halves"]:
            tar.add(out / f"reviews-{half}", arcname=f"month/reviews-{half}")


def device_month(kit_root: Path, base: Path, init: Path, out: Path, device: str, workers: int) -> None:
    """On the lent GPU (scripts/gpu/starter.sh month): each half's candidate and the control, from `init`."""
    from models.retrain import train_candidate

    settings = json.loads((kit_root / "settings.json").read_text(encoding="utf-8"))
    jobs: list[tuple[str, Path, Path]] = []
    for half in settings["halves"]:
        holdout = base.parent / f"base-v2-holdout-{half}"
        make_holdout(base, holdout, half)
        reviews = kit_root / f"reviews-{half}"
        (reviews / "data.yaml").write_text(_absolute_data_yaml(reviews, holdout), encoding="utf-8")
        jobs.append((f"candidate-{half}", holdout, reviews))
    jobs.append(("control", *_control_version(jobs[0][1], jobs[0][2], kit_root / "control")))
    for label, holdout, reviews in jobs:
        config = _config(holdout, reviews, settings, device=device, workers=workers, cache="ram", batch=64)
        work = out / label
        work.mkdir(parents=True)
        started = time.perf_counter()
        run = train_candidate(config, init, work)
        print(f"{label}: trained in {time.perf_counter() - started:.0f} s → {run}", flush=True)


def _absolute_data_yaml(reviews: Path, holdout: Path) -> str:
    spec = yaml.safe_load((reviews / "data.yaml").read_text(encoding="utf-8"))
    spec["train"] = [str(holdout / "images" / "train"), str(reviews / "images" / "train")]
    spec["val"] = [str(holdout / "images" / "val"), str(reviews / "images" / "val")]
    return str(yaml.safe_dump(spec, allow_unicode=True))


def _control_version(holdout: Path, reviews: Path, target: Path) -> tuple[Path, Path]:
    """A version like `reviews` with no reviewed frame to train on: training on it replays the base alone."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(reviews, target, symlinks=True)
    for kind in ("images", "labels"):
        for file in (target / kind / "train").iterdir():
            file.unlink()
    (target / "data.yaml").write_text(_absolute_data_yaml(target, holdout), encoding="utf-8")
    return holdout, target


def _config(holdout: Path, reviews: Path, settings: dict[str, Any], **extra: Any) -> Any:
    from models.retrain import RetrainConfig

    return RetrainConfig(
        base=holdout, reviews=reviews, imgsz=settings["imgsz"], epochs=settings["epochs"],
        fraction=settings["fraction"], review_repeat=settings["repeat"], lr0=settings["lr0"],
        seed=settings.get("seed", 0), **extra,
    )  # fmt: skip


def train_control(base: Path, reviews: Path, out: Path, model: str, settings: dict[str, Any]) -> Path:
    """The control fine-tune on this machine (CPU): `base` alone (`reviews` without its frames), the candidates'
    epochs and settings, from `model`."""
    from models.registry import ModelFormat, model_file
    from models.retrain import train_candidate

    base, version = _control_version(base, reviews, out / "control-version")
    work = out / "control-run"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir()
    config = _config(base, version, settings, device="cpu")
    return train_candidate(config, model_file(model, ModelFormat.PYTORCH), work)


def retrain_and_judge(
    base: Path, reviews: Path, runs: Path, settings: dict[str, Any], trained: Path | None = None
) -> dict[str, Any]:
    """`streetwatch retrain` on `reviews` (training here, or judging `trained`) under the default gate; the new
    version's evaluations, gate decision and reference, from its card in the registry."""
    from models.versions import registry_dir

    command = ["retrain", "--base", str(base), "--reviews", str(reviews), "--imgsz", str(settings["imgsz"]),
               "--epochs", str(settings["epochs"]), "--fraction", str(settings["fraction"]),
               "--review-repeat", str(settings["repeat"]), "--lr0", str(settings["lr0"]),
               "--seed", str(settings.get("seed", 0)), "--device", "cpu", "--runs", str(runs)]  # fmt: skip
    cli(*command, *(["--trained", str(trained)] if trained else []))
    card_path = max(registry_dir().rglob("card.json"), key=lambda p: p.stat().st_mtime)
    card = json.loads(card_path.read_text(encoding="utf-8"))
    return {**card["evaluation"], "gate": card["gate"], "reference": f"{card['name']}@{card['version']}"}


def evaluate_control(run: Path, holdout: Path, reviews: Path, settings: dict[str, Any]) -> dict[str, Any]:
    """The control's last epoch, exported to ONNX fp32 like a candidate, on this half's frozen benchmark."""
    from models.export import export_onnx
    from models.registry import load_detector
    from models.retrain import LOW, _evaluate

    onnx = export_onnx(run / "weights" / "last.pt", run / "control.onnx", imgsz=settings["imgsz"])
    config = _config(holdout, reviews, settings)
    evaluation, _ = _evaluate(load_detector(onnx, settings=LOW), [(holdout, "val"), (reviews, "val")], config,
                              "control")  # fmt: skip
    return evaluation.to_json()


if __name__ == "__main__":
    main()
