"""`streetwatch train CONFIG`: ultralytics training from a validated YAML config, offline, into a run folder.

A run folder (`runs/train/<name>/`, never overwritten) holds everything needed to say later what a model is:
the config as written, `run.json` (dataset version and the sha256 of its manifest, the initial weights and their
sha256, library versions, hardware, start, end, seconds), `metrics.jsonl` (one line per epoch: losses, precision,
recall, mAP50, mAP50-95, learning rate, seconds) and ultralytics' own output (`weights/best.pt`, `last.pt`,
`results.csv`, plots).
"""

from __future__ import annotations

import json
import logging
import platform
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from datasets.fingerprints import sha256_bytes, sha256_file
from models.hardware import cpu_name

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
# Hyper-parameters a config may set besides the named fields; anything else is a typo, refused up front.
HYPER_PARAMETERS = frozenset(
    {
        "lr0", "lrf", "momentum", "weight_decay", "warmup_epochs", "optimizer", "cos_lr", "close_mosaic",
        "mosaic", "mixup", "copy_paste", "scale", "degrees", "translate", "shear", "perspective", "fliplr",
        "hsv_h", "hsv_s", "hsv_v", "box", "cls", "dfl", "label_smoothing", "rect", "multi_scale",
        "freeze",  # N: the first N layers keep their weights (a short CPU fine-tune: backbone frozen, ~2x faster)
        "val",  # False: validate only after the last epoch (a retrain keeps its last epoch, not the best one)
    }
)  # fmt: skip


class TrainConfig(BaseModel):
    """One training run: what to start from, on which dataset version, how long and how."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="run name, also the run folder's name")
    init: str = Field(description="initial weights: a .pt path (relative to the config) or a zoo model name")
    data: str = Field(description="dataset version folder (with data.yaml and manifest.json), relative to config")
    imgsz: int = Field(default=640, ge=64, le=2048, multiple_of=32, description="training image size")
    epochs: int = Field(ge=1, le=1000)
    batch: int = Field(default=16, ge=1, description="images per batch")
    preset: str = Field(default="street", description="augmentation preset of datasets.presets (pixel part)")
    seed: int = Field(default=0)
    device: str = Field(default="auto", description="'auto' (first GPU, else CPU), 'cpu', or a CUDA index")
    workers: int = Field(default=2, ge=0)
    patience: int = Field(default=100, ge=1, description="epochs without improvement before stopping early")
    cache: Literal["ram", "disk"] | None = Field(default=None, description="cache decoded images")
    fraction: float = Field(default=1.0, gt=0, le=1, description="share of the training images to use")
    time_hours: float | None = Field(default=None, gt=0, description="wall-clock budget; overrides epochs")
    hyper: dict[str, float | int | str | bool] = Field(default_factory=dict, description="ultralytics hyper-params")

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, value: str) -> str:
        from datasets.presets import PRESETS

        if value not in PRESETS:
            raise ValueError(f"unknown augmentation preset {value!r}; known presets: {', '.join(PRESETS)}")
        return value

    @field_validator("hyper")
    @classmethod
    def _known_hyper(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - HYPER_PARAMETERS)
        if unknown:
            raise ValueError(f"unknown hyper-parameters {unknown}; allowed: {', '.join(sorted(HYPER_PARAMETERS))}")
        return value


def load_train_config(path: Path) -> TrainConfig:
    """The validated config; a clear error naming the file otherwise."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"{path}: cannot read the training config: {error}") from error
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: a training config is a mapping of settings")
    return TrainConfig.model_validate(raw)


def resolve_init(config: TrainConfig, base: Path) -> Path:
    """The initial weights file: a path relative to the config's folder, or a zoo model's model.pt."""
    from models.registry import ModelFormat, model_file

    candidate = (base / config.init).resolve()
    if candidate.suffix == ".pt":
        if not candidate.is_file():
            raise FileNotFoundError(f"initial weights {candidate} not found")
        return candidate
    return model_file(config.init, ModelFormat.PYTORCH)


def resolve_data(config: TrainConfig, base: Path) -> Path:
    """The dataset version folder; it must hold data.yaml and manifest.json (built by `streetwatch dataset build`)."""
    folder = (base / config.data).resolve()
    for needed in ("data.yaml", "manifest.json"):
        if not (folder / needed).is_file():
            raise FileNotFoundError(f"dataset {folder} has no {needed}; build it with `streetwatch dataset build`")
    return folder


def train(config_path: Path, runs: Path = REPO_ROOT / "runs" / "train") -> Path:
    """Train as `config_path` says; the run folder. Never reaches the network (see vision.ultralytics_env)."""
    config = load_train_config(config_path)
    base = config_path.resolve().parent
    init, data = resolve_init(config, base), resolve_data(config, base)
    run = runs.resolve() / config.name  # ultralytics would put a relative project under its own runs/detect/
    if run.exists():
        raise FileExistsError(f"run {run} already exists; give the run a new name")
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(config_path.read_text(encoding="utf-8"), encoding="utf-8")

    from datasets.presets import pixel_transforms
    from vision.ultralytics_env import import_ultralytics

    ultralytics = import_ultralytics()
    import torch

    device = _device(config.device, torch)
    info: dict[str, Any] = {
        "name": config.name,
        "dataset": {
            "path": str(data),
            "name": json.loads((data / "manifest.json").read_text(encoding="utf-8"))["name"],
            "manifest_sha256": sha256_file(data / "manifest.json"),
        },
        "init": {"path": str(init), "sha256": sha256_file(init)},
        "config_sha256": sha256_bytes(config_path.read_bytes()),
        "versions": {
            "ultralytics": ultralytics.__version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
        "hardware": _hardware(device, torch),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (run / "run.json").write_text(json.dumps(info, indent=2) + "\n")
    model = ultralytics.YOLO(str(init))
    epoch_started = [time.perf_counter()]
    trained_since_last_row = [False]

    def on_train_epoch_end(trainer: Any) -> None:
        trained_since_last_row[0] = True

    def on_fit_epoch_end(trainer: Any) -> None:
        now = time.perf_counter()
        losses = trainer.label_loss_items(trainer.tloss, prefix="train")
        row = {"epoch": trainer.epoch + 1, **losses, **trainer.metrics, **trainer.lr, "seconds": now - epoch_started[0]}
        # ultralytics calls this once more after the last epoch, for its final validation of best.pt: no training
        # epoch precedes that call (comparing epoch numbers fails when a time budget re-plans the epochs)
        if not trained_since_last_row[0]:
            row = {"final_validation_of_best": True, **trainer.metrics}
        trained_since_last_row[0] = False
        with (run / "metrics.jsonl").open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({k: _plain(v) for k, v in row.items()}) + "\n")
        epoch_started[0] = now

    model.add_callback("on_train_epoch_end", on_train_epoch_end)
    model.add_callback("on_fit_epoch_end", on_fit_epoch_end)
    started = time.perf_counter()
    model.train(
        data=str(data / "data.yaml"),
        epochs=config.epochs,
        time=config.time_hours,
        imgsz=config.imgsz,
        batch=config.batch,
        seed=config.seed,
        deterministic=True,
        device=device,
        workers=config.workers,
        patience=config.patience,
        cache=config.cache or False,
        fraction=config.fraction,
        augmentations=pixel_transforms(config.preset),
        project=str(run.parent),
        name=run.name,
        exist_ok=True,  # the folder is ours: it holds config.yaml and run.json already
        plots=True,
        verbose=False,
        **config.hyper,
    )
    info.update(
        finished=datetime.now(UTC).isoformat(timespec="seconds"), seconds=round(time.perf_counter() - started, 1)
    )
    (run / "run.json").write_text(json.dumps(info, indent=2) + "\n")
    return run


def _device(wanted: str, torch: Any) -> str:
    if wanted == "auto":
        return "0" if torch.cuda.is_available() else "cpu"
    if wanted != "cpu" and not torch.cuda.is_available():
        raise ValueError(f"device {wanted!r} asked for, but torch sees no CUDA GPU; use 'cpu' or 'auto'")
    return wanted


def _hardware(device: str, torch: Any) -> str:
    if device != "cpu":
        return f"{torch.cuda.get_device_name(int(device.split(',')[0]))} (CUDA)"
    return f"{cpu_name()}, {torch.get_num_threads()} threads (CPU)"


def _plain(value: Any) -> Any:
    try:
        return round(float(value), 6)
    except (TypeError, ValueError):
        return str(value)
