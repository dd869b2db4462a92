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
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field

from datasets.fingerprints import sha256_file
from datasets.manifest import Manifest, read_manifest
from models.hardware import cpu_name
from models.registry import ZOO_DIR
from vision.detector import Detector
from vision.images import ImageArray
from vision.taxonomy import load_taxonomy
from vision.tiling import TiledDetector, TilingConfig

CALIBRATION_IMAGES = 64
# A patrol car's camera: wide validation frames stored smaller are also measured brought back to this (w, h).
CAMERA_SIZE = (1920, 1080)
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


class PublishOptions(BaseModel):
    """How a run becomes a zoo model (everything but which run, under what name and version, into which zoo).

    `data` is this machine's copy of the run's dataset version, for runs trained elsewhere (a lent GPU): it must
    hold the very manifest the run recorded. `tiling` goes into the card as `inference.tiling`: every user of the
    model then tiles wide frames so (`models.registry.load_detector`). Validation sources with wide frames are
    also measured with tiles, with `tiling` or the defaults, so the card shows what tiling is worth either way.
    `weights_file`: the run's `best.pt` (best on validation) or `last.pt` (its final weights, for a run whose
    candidate was named in advance as its last epoch); the card records which.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    review_threshold: float = Field(default=0.25, ge=0, le=1)
    intended_use: str = ""
    limits: tuple[str, ...] = ()
    force: bool = Field(default=False, description="replace the zoo model of that name")
    data: Path | None = None
    tiling: TilingConfig | None = None
    weights_file: Literal["best.pt", "last.pt"] = "best.pt"


def publish(
    run: Path, name: str, version: str, options: PublishOptions = PublishOptions(), zoo: Path = ZOO_DIR
) -> Path:
    """Copy the run's weights into `zoo/name/`, export fp32 and int8 ONNX, evaluate both, write the card."""
    from models.export import export_onnx
    from models.quantize import quantize_int8
    from vision.onnx_backend import OnnxDetector
    from vision.yolo_head import DetectionSettings

    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    config = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))
    dataset = _trained_on(run, info, options.data)
    manifest = read_manifest(dataset)
    target = zoo / name
    if target.exists() and not options.force:
        raise FileExistsError(f"{target} exists; pass force to replace it with version {version}")
    staging = zoo / f".{name}.partial"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    weights = shutil.copyfile(run / "weights" / options.weights_file, staging / "model.pt")
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
    views = options.tiling or TilingConfig()  # how wide frames are measured: the card's tiling, else the defaults
    evaluations = _evaluate(detectors, dataset, manifest, options.review_threshold, imgsz, views)
    review_threshold, tiling = options.review_threshold, options.tiling
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
            "weights": options.weights_file,
            "versions": info["versions"],
        },
        "training_data": trained_on,
        "synthetic_only_classes": synthetic_only(trained_on),
        "evaluation": {"split": "val", "review_threshold": review_threshold, **evaluations},
        "data_statement": data_statement(manifest),
        "speed": {**measure_speed(fp32, int8), "frame_1080p": measure_wide_speed(staging, views)},
        "intended_use": options.intended_use,
        "limits": list(options.limits),
    }
    if tiling is not None:
        card["inference"] = {"tiling": tiling.model_dump(mode="json")}
    (staging / "card.json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (staging / "card.md").write_text(render_card(card), encoding="utf-8")
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    return target


def _trained_on(run: Path, info: dict[str, Any], data: Path | None) -> Path:
    """The dataset version a finished run was trained on, here (`data`: a local copy of it), checked by manifest."""
    if "finished" not in info:
        raise ValueError(f"run {run} did not finish (no end time in run.json)")
    dataset = data or Path(info["dataset"]["path"])
    if not (dataset / "manifest.json").is_file():
        raise FileNotFoundError(f"dataset {dataset} of run {run.name} is not here; pass the local copy as data")
    if sha256_file(dataset / "manifest.json") != info["dataset"]["manifest_sha256"]:
        raise ValueError(f"dataset {dataset} is not the version run {run.name} was trained on (manifest differs)")
    return dataset


def _evaluate(
    detectors: Mapping[str, Detector],
    dataset: Path,
    manifest: Manifest,
    threshold: float,
    imgsz: int,
    views: TilingConfig,
) -> dict[str, Any]:
    """Each detector on the validation split; where it has wide frames also tiled, and at a patrol camera's size
    with and without tiles (`tiled`)."""
    from models.evaluate import evaluate_results, predict_dataset

    names = load_taxonomy().names
    evaluations: dict[str, Any] = {}
    for label, detector in detectors.items():
        results = predict_dataset(detector, dataset, "val", names)
        evaluations[label] = evaluate_results(results, names, threshold, label, manifest.name).to_json()
    wide, frames = wide_sources(dataset, manifest, imgsz, views)
    if not wide:
        return evaluations
    evaluations["tiled"] = {"sources": wide, "camera_sources": frames, "camera_size": list(CAMERA_SIZE)}
    tiled_runs: dict[str, tuple[Detector, list[str], tuple[int, int] | None]] = {
        f"{label}{suffix}": (TiledDetector(detector, views), sources, size)
        for label, detector in detectors.items()
        for suffix, sources, size in (("", wide, None), ("_camera_size", frames, CAMERA_SIZE))
    }
    tiled_runs["onnx_fp32_camera_size_whole"] = (detectors["onnx_fp32"], frames, CAMERA_SIZE)
    for key, (measured, sources, size) in tiled_runs.items():
        if sources:
            results = predict_dataset(measured, dataset, "val", names, sources=sources, frame_size=size)
            evaluations["tiled"][key] = evaluate_results(results, names, threshold, key, manifest.name).to_json()
    return evaluations


def wide_sources(dataset: Path, manifest: Manifest, imgsz: int, tiling: TilingConfig) -> tuple[list[str], list[str]]:
    """Sources with validation images the model's input shrinks enough for tiles (they are tiled in use), and of
    those the ones whose every validation image is a 16:9 camera frame (measured again at `CAMERA_SIZE`)."""
    import cv2

    shapes: dict[str, list[tuple[int, int]]] = {}
    for entry in manifest.entries:
        if entry.split == "val":
            image = cv2.imread(str(dataset / entry.image), cv2.IMREAD_REDUCED_GRAYSCALE_8)
            if image is not None:
                shapes.setdefault(entry.source, []).append((image.shape[0] * 8, image.shape[1] * 8))
    wide = sorted(s for s, sizes in shapes.items() if any(max(hw) >= imgsz * tiling.min_downscale for hw in sizes))
    ratio = CAMERA_SIZE[0] / CAMERA_SIZE[1]
    frames = [s for s in wide if all(abs(w / h - ratio) < 0.02 * ratio for h, w in shapes[s])]
    return wide, frames


def data_statement(manifest: Manifest) -> dict[str, Any]:
    """Each source's licence and attribution, and the sentence a source without a stated licence requires."""
    unstated = sorted(name for name, s in manifest.sources.items() if s.get("license", "").lower() == "not stated")
    return {
        "sources": {name: dict(provenance) for name, provenance in sorted(manifest.sources.items())},
        "licence_not_stated": unstated,
        "statement": (
            f"Trained partly on frames whose licence is not stated ({', '.join(unstated)}): they are used for "
            "training and evaluation inside this project only and are not distributed with it."
            if unstated
            else "Every training source states its licence."
        ),
    }


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
        speed[label] = _mean_ms(OnnxDetector(path), photos, rounds)
    return speed


def _mean_ms(detector: Detector, images: list[ImageArray], rounds: int) -> float:
    """Mean wall milliseconds of `detector.detect` over `rounds` passes of `images`, after one warm-up call."""
    detector.detect(images[0])
    times = []
    for _ in range(rounds):
        for image in images:
            start = time.perf_counter()
            detector.detect(image)
            times.append((time.perf_counter() - start) * 1000)
    return round(statistics.mean(times), 1)


def measure_wide_speed(folder: Path, tiling: TilingConfig, rounds: int = 3) -> dict[str, Any]:
    """Mean ms per 1920 x 1080 frame (a sample photo brought to that size), whole frame and tiles, per backend."""
    import cv2

    from models.registry import load_detector
    from vision.images import load_image

    photo = load_image(sorted((REPO_ROOT / "samples" / "images").glob("*.jpg"))[0])
    frame = np.ascontiguousarray(cv2.resize(photo, (1920, 1080), interpolation=cv2.INTER_CUBIC), dtype=np.uint8)
    speed: dict[str, Any] = {"machine": _machine(), "tiling": tiling.model_dump(mode="json")}
    backends = (("onnx_fp32", "onnx", "model.onnx"), ("onnx_int8", "onnx", "model.int8.onnx"))
    for label, backend, file in (*backends, ("ultralytics", "ultralytics", "model.pt")):
        whole = load_detector(folder / file, backend, tiles=False)
        speed[f"{label}_ms"] = _mean_ms(whole, [frame], rounds)
        speed[f"{label}_tiles_ms"] = _mean_ms(TiledDetector(whole, tiling), [frame], rounds)
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
        f"augmentation preset `{t['config'].get('preset', 'street')}`, seed {t['config'].get('seed', 0)}; "
        + ("its final weights (`last.pt`)" if t.get("weights") == "last.pt" else "its best weights on validation"),
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
    lines += _tiled_rows(card)
    speed = card["speed"]
    lines += [
        "",
        "## Speed",
        "",
        f"Mean end-to-end ms per photo over the {speed['photos']} bundled samples on {speed['machine']}: "
        f"ONNX fp32 {speed['onnx_fp32_ms']} ms, int8 {speed['onnx_int8_ms']} ms.",
    ]
    wide = speed.get("frame_1080p")
    if wide:
        lines += [
            "",
            f"Per 1920 x 1080 frame (mean ms, {wide['machine']}):",
            "",
            "| backend | whole frame | tiles + whole frame |",
            "|---|---:|---:|",
        ]
        for label, name in (("onnx_fp32", "ONNX fp32"), ("onnx_int8", "ONNX int8"), ("ultralytics", "ultralytics")):
            lines.append(f"| {name} | {wide[f'{label}_ms']} | {wide[f'{label}_tiles_ms']} |")
    statement = card.get("data_statement")
    if statement:
        lines += ["", "## Data", "", statement["statement"], ""]
        for source, provenance in statement["sources"].items():
            lines.append(f"- {source}: licence {provenance.get('license')}; {provenance.get('attribution', '')}")
    tiling = card.get("inference", {}).get("tiling")
    lines += [
        "",
        "## Inference",
        "",
        f"Wide frames are tiled by default: {json.dumps(tiling)}."
        if tiling
        else "Whole frames by default (`--tiles` turns tiling on).",
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


def _tiled_rows(card: dict[str, Any]) -> list[str]:
    """The wide-frame table: each wide source's classes, whole frame against tiles + whole frame."""
    ev = card["evaluation"]
    tiled = ev.get("tiled")
    if not tiled:
        return []
    width, height = tiled["camera_size"]
    camera = f"{width}x{height}"
    lines = [
        "",
        f"### Wide frames: whole frame and tiles + whole frame ({', '.join(tiled['sources'])})",
        "",
        f"AP50 on the validation images as stored, and for camera frames ({', '.join(tiled['camera_sources'])}) "
        f"also brought to a patrol camera's {width} x {height}, where tiles show objects as large as the camera's "
        "own frames do; the false-positive image rate (fp32) whole and tiled.",
        "",
        f"| source | class | instances | whole fp32 | tiles fp32 | tiles int8 | {camera} whole fp32 | "
        f"{camera} tiles fp32 | {camera} tiles int8 | FP-image rate whole / tiles |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def rows(key: str, source: str, evaluation: dict[str, Any] | None = None) -> list[dict[str, Any] | None]:
        """The class rows of `source` in one evaluation; None where it did not cover the source."""
        found = evaluation if evaluation is not None else tiled.get(key)
        covered = tiled["camera_sources"] if "camera_size" in key else tiled["sources"]
        if found is None or (evaluation is None and source not in covered):
            return [None] * len(card["classes"])
        # an evaluation of a single source has no per-source rows: its overall rows are that source's
        return list(found["by_source"].get(source, found["classes"]))

    for source in tiled["sources"]:
        camera_keys = ("onnx_fp32_camera_size_whole", "onnx_fp32_camera_size", "onnx_int8_camera_size")
        columns = [
            rows("", source, ev["onnx_fp32"]),
            *(rows(key, source) for key in ("onnx_fp32", "onnx_int8")),
            *(rows(key, source) for key in camera_keys),
        ]
        for whole, *others in zip(*columns, strict=True):
            assert whole is not None
            tiles = others[0]
            rate = (whole["false_positive_image_rate"], None if tiles is None else tiles["false_positive_image_rate"])
            if not whole["instances"] and not any(rate):
                continue
            values = " | ".join(_f(r["ap50"]) if r else "-" for r in (whole, *others))
            rates = " / ".join("-" if r is None else f"{r:.3f}" for r in rate)
            lines.append(f"| {source} | {whole['name']} | {whole['instances']} | {values} | {rates} |")
    return lines


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
