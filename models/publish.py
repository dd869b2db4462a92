"""`streetwatch publish RUN`: a finished training run → a zoo model with its ONNX files and its card.

The card (`card.json`, rendered to `card.md`) is the single source of a model's metadata: classes, files and
their sha256, the training run (initial weights, dataset version and manifest hash, hardware, time), how many
real and synthetic boxes of each class it saw, its metrics on the validation split overall and per source (fp32
and int8), measured speed, intended use, and its known limits — which classes rest only on synthetic data is
derived from the manifest, not written by hand.
"""

from __future__ import annotations

import json
import random
import shutil
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from datasets.fingerprints import sha256_file
from datasets.manifest import Manifest, read_manifest
from models.hardware import cpu_name
from models.registry import ZOO_DIR
from vision.taxonomy import load_taxonomy

CALIBRATION_IMAGES = 64
REPO_ROOT = Path(__file__).resolve().parents[1]


def training_data(manifest: Manifest) -> dict[str, Any]:
    """Per class and split: boxes from real photos and from synthetic generators; images per source and split."""
    boxes: dict[str, dict[str, dict[str, int]]] = {c: {} for c in manifest.classes}
    images: dict[str, dict[str, int]] = {}
    for entry in manifest.entries:
        kind = "synthetic" if entry.source.startswith("synthetic/") else "real"
        images.setdefault(entry.source, {}).setdefault(entry.split, 0)
        images[entry.source][entry.split] += 1
        for name, count in entry.boxes.items():
            split = boxes[name].setdefault(entry.split, {"real": 0, "synthetic": 0})
            split[kind] += count
    return {"dataset": manifest.name, "boxes": boxes, "images": images}


def synthetic_only(data: dict[str, Any]) -> list[str]:
    """Classes with synthetic training boxes and no real ones."""
    return [
        name
        for name, splits in data["boxes"].items()
        if splits.get("train", {}).get("synthetic", 0) and not splits.get("train", {}).get("real", 0)
    ]


def publish(
    run: Path,
    name: str,
    version: str,
    zoo: Path = ZOO_DIR,
    review_threshold: float = 0.25,
    intended_use: str = "",
    limits: tuple[str, ...] = (),
    force: bool = False,
    data: Path | None = None,
) -> Path:
    """Copy the run's best weights into `zoo/name/`, export fp32 and int8 ONNX, evaluate both, write the card.

    `data` is this machine's copy of the run's dataset version, for runs trained elsewhere (a lent GPU): it must
    hold the very manifest the run recorded.
    """
    from models.evaluate import evaluate_results, predict_dataset
    from models.export import export_onnx
    from models.quantize import quantize_int8
    from vision.onnx_backend import OnnxDetector
    from vision.yolo_head import DetectionSettings

    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    config = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))
    if "finished" not in info:
        raise ValueError(f"run {run} did not finish (no end time in run.json)")
    dataset = data or Path(info["dataset"]["path"])
    if not (dataset / "manifest.json").is_file():
        raise FileNotFoundError(f"dataset {dataset} of run {run.name} is not here; pass the local copy as data")
    if sha256_file(dataset / "manifest.json") != info["dataset"]["manifest_sha256"]:
        raise ValueError(f"dataset {dataset} is not the version run {run.name} was trained on (manifest differs)")
    manifest = read_manifest(dataset)
    target = zoo / name
    if target.exists() and not force:
        raise FileExistsError(f"{target} exists; pass force to replace it with version {version}")
    staging = zoo / f".{name}.partial"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    weights = shutil.copyfile(run / "weights" / "best.pt", staging / "model.pt")
    imgsz = int(config["imgsz"])
    fp32 = export_onnx(weights, staging / "model.onnx", imgsz=imgsz)
    train_images = sorted(dataset / e.image for e in manifest.entries if e.split == "train")
    calibration = sorted(random.Random(0).sample(train_images, min(CALIBRATION_IMAGES, len(train_images))))
    int8 = quantize_int8(fp32, staging / "model.int8.onnx", calibration)

    names = load_taxonomy().names
    low = DetectionSettings(confidence_threshold=0.001, iou_threshold=0.7)
    detectors = {"onnx_fp32": OnnxDetector(fp32, low), "onnx_int8": OnnxDetector(int8, low)}
    if tuple(detectors["onnx_fp32"].class_names) != tuple(names):
        raise ValueError(f"run {run.name} predicts {detectors['onnx_fp32'].class_names}, not the taxonomy's {names}")
    evaluations = {}
    for label, detector in detectors.items():
        results = predict_dataset(detector, dataset, "val", names)
        evaluations[label] = evaluate_results(results, names, review_threshold, label, manifest.name).to_json()
    trained_on = training_data(manifest)
    card = {
        "name": name,
        "version": version,
        "task": "detect",
        "architecture": "YOLOv8n",
        "input_size": [imgsz, imgsz],
        "classes": list(names),
        "files": {f: sha256_file(staging / f) for f in ("model.pt", "model.onnx", "model.int8.onnx")},
        "license": "AGPL-3.0 (fine-tuned from Ultralytics YOLOv8n COCO weights)",
        "published": datetime.now(UTC).date().isoformat(),
        "training": {
            "run": info["name"],
            "config": config,
            "init": info["init"],
            "dataset": info["dataset"],
            "hardware": info["hardware"],
            "seconds": info["seconds"],
            "epochs_run": _epochs_run(run),
            "versions": info["versions"],
        },
        "training_data": trained_on,
        "synthetic_only_classes": synthetic_only(trained_on),
        "evaluation": {"split": "val", "review_threshold": review_threshold, **evaluations},
        "speed": measure_speed(fp32, int8),
        "intended_use": intended_use,
        "limits": list(limits),
    }
    (staging / "card.json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (staging / "card.md").write_text(render_card(card), encoding="utf-8")
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    return target


def _epochs_run(run: Path) -> int:
    path = run / "metrics.jsonl"
    if not path.exists():
        return 0
    return sum("epoch" in json.loads(line) for line in path.read_text(encoding="utf-8").splitlines())


def measure_speed(fp32: Path, int8: Path, rounds: int = 3) -> dict[str, Any]:
    """Mean ms per bundled sample photo, end to end, for the fp32 and int8 ONNX models on this machine's CPU."""
    from vision.images import load_image
    from vision.onnx_backend import OnnxDetector

    photos = [load_image(p) for p in sorted((REPO_ROOT / "samples" / "images").glob("*.jpg"))]
    speed: dict[str, Any] = {"machine": _machine(), "photos": len(photos)}
    for label, path in (("onnx_fp32_ms", fp32), ("onnx_int8_ms", int8)):
        detector = OnnxDetector(path)
        detector.detect(photos[0])  # warm-up
        times = []
        for _ in range(rounds):
            for photo in photos:
                start = time.perf_counter()
                detector.detect(photo)
                times.append((time.perf_counter() - start) * 1000)
        speed[label] = round(statistics.mean(times), 1)
    return speed


def _machine() -> str:
    import os

    return f"{cpu_name()}, {os.cpu_count()} cores (CPU), onnxruntime default threads"


def render_card(card: dict[str, Any]) -> str:
    """card.md from card.json: nothing in it that the JSON does not say."""
    t = card["training"]
    lines = [
        f"# {card['name']} {card['version']}",
        "",
        f"YOLOv8n detector for StreetWatch's taxonomy ({', '.join(card['classes'])}), "
        f"input {card['input_size'][0]} px.",
        f"Licence: {card['license']}.",
        "",
        "## Intended use",
        "",
        card["intended_use"] or "-",
        "",
        "## Training",
        "",
        f"- run `{t['run']}`: {t['epochs_run']} epochs at {t['config']['imgsz']} px, batch {t['config']['batch']}, "
        f"augmentation preset `{t['config'].get('preset', 'street')}`, seed {t['config'].get('seed', 0)}",
        f"- hardware: {t['hardware']}; {t['seconds'] / 60:.0f} min",
        f"- initial weights: `{Path(t['init']['path']).name}` (sha256 {t['init']['sha256'][:16]}…)",
        f"- dataset `{t['dataset']['name']}` (manifest sha256 {t['dataset']['manifest_sha256'][:16]}…)",
        f"- ultralytics {t['versions']['ultralytics']}, torch {t['versions']['torch']}",
        "",
        "Boxes per class in the training data (train / val split):",
        "",
        "| class | train real | train synthetic | val real | val synthetic |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, splits in card["training_data"]["boxes"].items():
        tr, va = splits.get("train", {}), splits.get("val", {})
        lines.append(
            f"| {name} | {tr.get('real', 0)} | {tr.get('synthetic', 0)} | "
            f"{va.get('real', 0)} | {va.get('synthetic', 0)} |"
        )
    lines += ["", "Images per source (train / val):", ""]
    for source, splits in sorted(card["training_data"]["images"].items()):
        lines.append(f"- {source}: {splits.get('train', 0)} / {splits.get('val', 0)}")
    ev = card["evaluation"]
    lines += [
        "",
        f"## Validation metrics ({ev['split']} split, review threshold {ev['review_threshold']})",
        "",
        "AP by COCO's definition (checked against pycocotools in the tests); P, R and the false-positive image rate "
        "(share of images without the class on which it fires) at the review threshold.",
        "",
        "| subset | class | instances | AP50 fp32 | AP50-95 fp32 | AP50 int8 | P | R | FP-image rate |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    fp32, int8 = ev["onnx_fp32"], ev["onnx_int8"]
    subsets = [("all", fp32["classes"], int8["classes"])]
    subsets += [(s, rows, int8["by_source"].get(s, rows)) for s, rows in sorted(fp32["by_source"].items())]
    for subset, rows, rows8 in subsets:
        for row, row8 in zip(rows, rows8, strict=True):
            if not row["instances"] and not row["false_positive_image_rate"]:
                continue
            fp = row["false_positive_image_rate"]
            lines.append(
                f"| {subset} | {row['name']} | {row['instances']} | {_f(row['ap50'])} | {_f(row['ap50_95'])} | "
                f"{_f(row8['ap50'])} | {_f(row['precision'])} | {_f(row['recall'])} | "
                f"{'-' if fp is None else f'{fp:.3f}'} |"
            )
    speed = card["speed"]
    lines += [
        "",
        "## Speed",
        "",
        f"Mean end-to-end ms per photo over the {speed['photos']} bundled samples on {speed['machine']}: "
        f"ONNX fp32 {speed['onnx_fp32_ms']} ms, int8 {speed['onnx_int8_ms']} ms.",
        "",
        "## Known limits",
        "",
    ]
    if card["synthetic_only_classes"]:
        lines.append(
            f"- Rest only on synthetic training data: {', '.join(card['synthetic_only_classes'])}. Their validation "
            "numbers are measured on synthetic validation images too; on real photos expect less."
        )
    lines += [f"- {limit}" for limit in card["limits"]]
    lines += ["", "## Files", ""]
    lines += [f"- `{f}`: sha256 {sha}" for f, sha in card["files"].items()]
    return "\n".join(lines) + "\n"


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
