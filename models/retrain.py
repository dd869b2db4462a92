"""`streetwatch retrain`: fine-tune the current model on base + review labels, compare, gate, register.

1. Train: initial weights = the current model (the promoted registry version, else the zoo default); data = the
   review dataset version (its data.yaml lists the parent's images and the reviewed frames, each reviewed frame
   `review_repeat` times); GPU when present. Or judge a run trained elsewhere (`trained=`: a lent GPU, see
   scripts/gpu/starter.sh), after checking it started from the current model on this review version.
2. Export the candidate's last epoch (never the epoch that scored best on the benchmark: the benchmark would then
   have picked the candidate it judges) to ONNX fp32 and int8 (what the edge runs).
3. Evaluate candidate and current model on the same frozen benchmark: the parent's validation photos plus the
   reviewed frames whose hash puts them in the `val` slice (never trained on, see datasets.reviews).
4. Write the comparison report (per-class AP50, recall at the review threshold, false-positive image rate, speed)
   as comparison.md + comparison.png, and the candidate's card (parent, data version, metrics, gate decision).
5. Register the candidate in the writable registry; promote it if the gate (models.gate) passes, else keep it as
   rejected with the reasons.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from datasets.fingerprints import sha256_file
from datasets.manifest import read_manifest
from models.evaluate import Evaluation, ImageResult, evaluate_results, predict_dataset
from models.gate import GateDecision, GateRule, gate
from models.registry import ModelFormat, load_detector, model_card, model_file, tiling_config, versioned
from models.versions import promote, register, registry_dir, set_status
from vision.detector import Detector
from vision.images import load_image
from vision.taxonomy import load_taxonomy
from vision.tiling import with_tiling
from vision.yolo_head import DetectionSettings

logger = logging.getLogger(__name__)
LOW = DetectionSettings(confidence_threshold=0.001, iou_threshold=0.7)  # for AP: keep the whole PR curve


class RetrainConfig(BaseModel):
    """One retraining run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base: Path = Field(description="the parent dataset version (its val split is part of the benchmark)")
    reviews: Path = Field(description="the review dataset version made by `dataset from-reviews` on `base`")
    imgsz: int = Field(default=640, ge=64, le=2048, multiple_of=32)
    epochs: int = Field(default=10, ge=1)
    batch: int = Field(default=16, ge=1)
    device: str = Field(default="auto", description="'auto' (GPU when present, else CPU), 'cpu', or a CUDA index")
    workers: int = Field(default=2, ge=0)
    fraction: float = Field(default=1.0, gt=0, le=1, description="share of the training images to use")
    time_hours: float | None = Field(default=None, gt=0)
    cache: Literal["ram", "disk"] | None = Field(default=None, description="ultralytics image cache")
    review_repeat: int = Field(
        default=1, ge=1, le=100, description="each reviewed frame is seen this many times per epoch (a month of "
        "reviews is small beside the replayed base)"
    )  # fmt: skip
    lr0: float = Field(default=0.001, gt=0, description="fine-tuning learning rate (AdamW, no warm-up)")
    seed: int = Field(default=0, ge=0, description="training seed (sampling, augmentation, initial order)")
    margin: float = Field(default=0.02, ge=0, description="gate: AP50 any one class may lose")
    min_gain: float = Field(default=0.0, description="gate: the mean AP50 must rise by more than this")
    review_threshold: float = Field(default=0.25, gt=0, lt=1)
    calibration_images: int = Field(default=16, ge=1)
    speed_images: int = Field(default=8, ge=1)


@dataclass
class RetrainResult:
    reference: str  # name@version of the candidate
    folder: Path  # its registry folder
    report: Path  # comparison.md
    decision: GateDecision


def retrain(
    config: RetrainConfig, current: str, runs: Path, root: Path | None = None, trained: Path | None = None
) -> RetrainResult:
    """Run the whole loop for `current` (a model reference); the registered candidate and the gate's decision.

    `trained`: a run folder of `train_candidate` made elsewhere (weights/last.pt, run.json); it is judged instead of
    training here, once its run.json shows it started from `current`'s weights on `config.reviews`.
    """
    root = root or registry_dir()
    parent = versioned(current)
    name, parent_version = parent.split("@", 1)
    version = _next_version(root / name, parent_version)
    work = runs / f"{name}-{version}"
    work.mkdir(parents=True, exist_ok=False)
    init = model_file(parent, ModelFormat.PYTORCH)
    if trained is None:
        run = train_candidate(config, init, work)
    else:
        check_trained_run(trained, init, config.reviews)
        run = trained
    staging = work / "candidate"
    files = _export(config, run, staging)
    names = load_taxonomy().names
    benchmark = [(config.base, "val"), (config.reviews, "val")]
    current_eval, current_ms = _evaluate(load_detector(parent, settings=LOW), benchmark, config, parent)
    candidate_ref = f"{name}@{version}"
    # the candidate is judged seeing frames as its parent does: tiled where the parent's card tiles
    tiling = tiling_config(parent)
    candidate_detector = with_tiling(load_detector(files["model.onnx"], settings=LOW), tiling)
    candidate_eval, candidate_ms = _evaluate(candidate_detector, benchmark, config, candidate_ref)
    decision = gate(_ap50(candidate_eval), _ap50(current_eval), GateRule(config.margin, config.min_gain))
    report = write_comparison(work, current_eval, candidate_eval, {parent: current_ms, candidate_ref: candidate_ms},
                              decision)  # fmt: skip
    card = _card(config, run, parent, candidate_ref, names, current_eval, candidate_eval, decision)
    card["speed_ms_fp32"] = {parent: current_ms, candidate_ref: candidate_ms}
    if tiling is not None:  # promoted, it must see frames as it was judged
        card["inference"] = {"tiling": tiling.model_dump(mode="json")}
    folder = register(files, card, root)
    for extra in ("comparison.md", "comparison.png"):
        shutil.copyfile(work / extra, folder / extra)
    if decision.promote:
        promote(candidate_ref, root)
    else:
        set_status(folder, "rejected", rejected_because=decision.reasons)
    return RetrainResult(candidate_ref, folder, report, decision)


def _next_version(folder: Path, parent_version: str) -> str:
    base = parent_version.split("-r")[0]
    taken = [p.name for p in folder.glob(f"{base}-r*")] if folder.is_dir() else []
    numbers = [int(t.rsplit("-r", 1)[1]) for t in taken if t.rsplit("-r", 1)[1].isdigit()]
    return f"{base}-r{max(numbers, default=0) + 1}"


def train_candidate(config: RetrainConfig, init: Path, work: Path) -> Path:
    """Fine-tune `init` (the current model's model.pt) as `config` says, in the existing folder `work`; the run."""
    from models.train import train

    use_list = config.fraction < 1 or config.review_repeat > 1
    data = replay_subset(config.reviews, config.fraction, work, config.review_repeat) if use_list else config.reviews
    train_config: dict[str, Any] = {
        "name": "train", "init": str(init.resolve()), "data": str(data.resolve()),
        "imgsz": config.imgsz, "epochs": config.epochs, "batch": config.batch, "device": config.device,
        "workers": config.workers, "preset": "street", "seed": config.seed,
        # a fine-tune of a converged model: a small steady rate, no warm-up (ultralytics' warm-up starts the biases
        # at 0.1, which undoes a trained detector in the few epochs a retrain has); no validation between epochs:
        # the last epoch is the candidate, so the benchmark never chooses it
        "hyper": {"optimizer": "AdamW", "lr0": config.lr0, "warmup_epochs": 0, "val": False},
    }  # fmt: skip
    if config.time_hours:
        train_config["time_hours"] = config.time_hours
    if config.cache:
        train_config["cache"] = config.cache
    path = work / "train.yaml"
    path.write_text(yaml.safe_dump(train_config), encoding="utf-8")
    return train(path, work)


def check_trained_run(run: Path, init: Path, reviews: Path) -> None:
    """Refuse a run trained elsewhere unless it has its last weights and started from `init` on `reviews`."""
    if not (run / "weights" / "last.pt").is_file() or not (run / "run.json").is_file():
        raise FileNotFoundError(f"{run} is not a training run: it needs weights/last.pt and run.json")
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    if info.get("init", {}).get("sha256") != sha256_file(init):
        raise ValueError(f"run {run} did not start from the current model's weights {init}")
    if info.get("dataset", {}).get("manifest_sha256") != sha256_file(reviews / "manifest.json"):
        raise ValueError(f"run {run} was not trained on the review version {reviews} (manifest hash differs)")


def replay_subset(reviews: Path, fraction: float, work: Path, repeat: int = 1) -> Path:
    """A dataset folder training on every reviewed frame `repeat` times and a seeded `fraction` of the parent's images.

    Ultralytics' own `fraction` keeps a prefix of the sorted file list, which would drop the review frames (their
    folder sorts after the parent's) before any base image: a smaller budget must shrink the replay, not the news.
    """
    from vision.images import IMAGE_SUFFIXES

    spec = yaml.safe_load((reviews / "data.yaml").read_text(encoding="utf-8"))
    folders = [(reviews / entry).resolve() for entry in spec["train"]]
    own = (reviews / "images" / "train").resolve()
    reviewed: list[Path] = []
    replay: list[Path] = []
    for folder in folders:
        images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else []
        (reviewed if folder == own else replay).extend(images)
    kept = sorted(random.Random(0).sample(replay, round(len(replay) * fraction))) if replay else []
    target = work / "data"
    target.mkdir()
    (target / "train.txt").write_text("".join(f"{p}\n" for p in reviewed * repeat + kept), encoding="utf-8")
    val = [str((reviews / entry).resolve()) for entry in spec["val"]]
    subset = {"train": str(target / "train.txt"), "val": val, "names": spec["names"]}
    (target / "data.yaml").write_text(yaml.safe_dump(subset, allow_unicode=True), encoding="utf-8")
    shutil.copyfile(reviews / "manifest.json", target / "manifest.json")  # the run records the review version
    logger.info("training on %d reviewed frames (each %d times) and %d of %d replayed base images", len(reviewed),
                repeat, len(kept), len(replay))  # fmt: skip
    return target


def _export(config: RetrainConfig, run: Path, staging: Path) -> dict[str, Path]:
    from models.export import export_onnx
    from models.quantize import quantize_int8

    staging.mkdir(parents=True)
    weights = shutil.copyfile(run / "weights" / "last.pt", staging / "model.pt")
    fp32 = export_onnx(weights, staging / "model.onnx", imgsz=config.imgsz)
    images = [config.reviews / e.image for e in read_manifest(config.reviews).entries if e.split == "train"]
    images += [config.base / e.image for e in read_manifest(config.base).entries if e.split == "train"]
    calibration = sorted(random.Random(0).sample(images, min(config.calibration_images, len(images))))
    int8 = quantize_int8(fp32, staging / "model.int8.onnx", calibration)
    return {"model.pt": weights, "model.onnx": fp32, "model.int8.onnx": int8}


def _evaluate(
    detector: Detector, benchmark: list[tuple[Path, str]], config: RetrainConfig, label: str
) -> tuple[Evaluation, float]:
    """The evaluation on the benchmark and the median fp32 ms per image (end to end, this machine)."""
    names = load_taxonomy().names
    results: list[ImageResult] = []
    images: list[Path] = []
    for folder, split in benchmark:
        results += predict_dataset(detector, folder, split, names)
        images += [folder / e.image for e in read_manifest(folder).entries if e.split == split]
    evaluation = evaluate_results(results, names, config.review_threshold, model=label, dataset="benchmark")
    times = []
    for path in images[: config.speed_images]:
        image = load_image(path)
        start = time.perf_counter()
        detector.detect(image)
        times.append((time.perf_counter() - start) * 1000)
    return evaluation, round(statistics.median(times), 1) if times else 0.0


def _ap50(evaluation: Evaluation) -> dict[str, float | None]:
    return {m.name: m.ap50 for m in evaluation.classes}


def _card(
    config: RetrainConfig, run: Path, parent: str, reference: str, names: tuple[str, ...],
    current: Evaluation, candidate: Evaluation, decision: GateDecision,
) -> dict[str, Any]:  # fmt: skip
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    reviews = read_manifest(config.reviews)
    name, version = reference.split("@", 1)
    parent_card = model_card(parent)
    return {
        "name": name, "version": version, "parent": parent, "status": "candidate",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "task": "detect", "architecture": parent_card.get("architecture", "YOLOv8n"),
        "input_size": [config.imgsz, config.imgsz], "classes": list(names),
        "license": parent_card.get("license", ""),
        "training": {
            "config": config.model_dump(mode="json"), "run": str(run), "hardware": info.get("hardware"),
            "seconds": info.get("seconds"), "init": info.get("init"),
            "dataset": {"name": reviews.name, "parent": reviews.parent, "manifest_sha256": info["dataset"][
                "manifest_sha256"], "review_decisions": len(reviews.review_decisions),
                "review_frames": len(reviews.entries)},
        },
        "benchmark": {"datasets": [f"{config.base.name}/val", f"{reviews.name}/val"], "images": candidate.images},
        "evaluation": {"current": current.to_json(), "candidate": candidate.to_json()},
        "gate": decision.to_json(),
    }  # fmt: skip


def write_comparison(
    out: Path, current: Evaluation, candidate: Evaluation, speed: dict[str, float], decision: GateDecision
) -> Path:
    """comparison.md (per-class table, speed, the gate's decision) and comparison.png (AP50 per class)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    rows = [
        "| class | instances | AP50 current | AP50 candidate | Δ AP50 | R@thr current | R@thr candidate "
        "| FP-image rate current | FP-image rate candidate |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for old, new in zip(current.classes, candidate.classes, strict=True):
        delta = "-" if old.ap50 is None or new.ap50 is None else f"{new.ap50 - old.ap50:+.3f}"
        rows.append(
            f"| {old.name} | {old.instances} | {fmt(old.ap50)} | {fmt(new.ap50)} | {delta} | {fmt(old.recall)} | "
            f"{fmt(new.recall)} | {fmt(old.false_positive_image_rate)} | {fmt(new.false_positive_image_rate)} |"
        )
    verdict = "PROMOTED" if decision.promote else "REJECTED: " + "; ".join(decision.reasons)
    text = "\n".join([
        f"# {candidate.model} vs {current.model}", "",
        f"Frozen benchmark: {candidate.images} images. Recall and false-positive image rate at the review threshold "
        f"{candidate.review_threshold}.", "", *rows, "",
        f"Mean AP50 over compared classes: current {fmt(decision.current_mean)}, "
        f"candidate {fmt(decision.candidate_mean)}.", "",
        "Speed (ONNX fp32 at each model's own input size, median ms per benchmark image, this machine): "
        + ", ".join(f"{k} {v:.1f} ms" for k, v in speed.items()), "",
        f"Gate: {verdict}", "",
    ])  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    (out / "comparison.md").write_text(text, encoding="utf-8")
    names = [m.name for m in current.classes]
    fig, ax = plt.subplots(figsize=(7, 4))
    positions = range(len(names))
    for offset, evaluation in ((-0.2, current), (0.2, candidate)):
        values = [m.ap50 or 0.0 for m in evaluation.classes]
        ax.bar([p + offset for p in positions], values, width=0.4, label=evaluation.model)
    ax.set_xticks(list(positions), names, rotation=20, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("AP50 on the frozen benchmark")
    ax.set_title("gate: " + ("promoted" if decision.promote else "rejected"))
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "comparison.png", dpi=100)
    plt.close(fig)
    return out / "comparison.md"
