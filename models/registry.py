"""The model zoo: shipped models by name, and which file serves which backend.

A `name@version` that the zoo does not ship is looked up in the writable registry of retrained versions
(`models.versions`); `current_model()` is what serves now (the promoted version, else the zoo default).
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Any

from models import versions
from vision.detector import Detector
from vision.errors import ModelLoadError
from vision.tiling import TilingConfig, with_tiling
from vision.yolo_head import DetectionSettings

ZOO_DIR = Path(__file__).resolve().parent / "zoo"
DEFAULT_MODEL = "streetwatch-starter"
# The COCO base model stays useful after the default changes: it finds people and cars (occluders, context).
COCO_MODEL = "coco-yolov8n"


class ModelFormat(StrEnum):
    """The files every zoo model ships."""

    PYTORCH = "pt"
    ONNX = "onnx"
    ONNX_INT8 = "int8"


_FILES = {ModelFormat.PYTORCH: "model.pt", ModelFormat.ONNX: "model.onnx", ModelFormat.ONNX_INT8: "model.int8.onnx"}


def list_models() -> list[str]:
    """Names of the models in the zoo (folders with a card.json)."""
    return sorted(p.parent.name for p in ZOO_DIR.glob("*/card.json"))


def current_model() -> str:
    """The model the server and edge devices serve now: the promoted registry version, else the zoo default."""
    return versions.promoted_reference() or DEFAULT_MODEL


def versioned(reference: str) -> str:
    """`name@version` for a zoo name (its card's version) or an already versioned reference."""
    if "@" in reference:
        return reference
    return f"{reference}@{model_card(reference).get('version', '')}"


def model_card(name: str) -> dict[str, Any]:
    """The model's card.json: provenance, licence, classes, training data, metrics, speed. `name` or `name@version`."""
    card = _model_dir(name) / "card.json"
    with card.open(encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


def model_file(name_or_path: str | Path, model_format: ModelFormat = ModelFormat.ONNX) -> Path:
    """The file for `model_format` of a zoo model (`name` or `name@version`), or an existing .onnx/.pt path."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".onnx", ".pt"):
        if not candidate.is_file():
            raise ModelLoadError(f"{candidate}: model file not found")
        return candidate
    path = _model_dir(str(name_or_path)) / _FILES[model_format]
    if not path.is_file():
        raise ModelLoadError(f"model {name_or_path!r} has no {model_format.value} file ({path.name})")
    return path


def load_detector(
    name_or_path: str | Path = DEFAULT_MODEL,
    backend: str = "onnx",
    int8: bool = False,
    settings: DetectionSettings | None = None,
    threads: int | None = None,
    tiles: bool | None = None,
) -> Detector:
    """A ready detector for a zoo model or a weights file: ONNX (onnxruntime, optionally int8) or ultralytics.

    It tiles wide frames as the model's card says (`tiling_config`); `tiles` overrides the card. This is the one
    place the rule is applied, so `detect`, `evaluate`, `inspect`, `edge` and the server see frames alike.
    """
    detector = _backend_detector(name_or_path, backend, int8, settings, threads)
    return with_tiling(detector, tiling_config(name_or_path, tiles))


def _backend_detector(
    name_or_path: str | Path, backend: str, int8: bool, settings: DetectionSettings | None, threads: int | None
) -> Detector:
    settings = settings or DetectionSettings()
    if backend == "ultralytics":
        if int8:
            raise ValueError("int8 applies to the onnx backend only")
        from vision.ultralytics_backend import UltralyticsDetector

        return UltralyticsDetector(model_file(name_or_path, ModelFormat.PYTORCH), settings)
    if backend != "onnx":
        raise ValueError(f"unknown backend {backend!r}: onnx or ultralytics")
    from vision.onnx_backend import OnnxDetector, OnnxOptions

    path = model_file(name_or_path, ModelFormat.ONNX_INT8 if int8 else ModelFormat.ONNX)
    return OnnxDetector(path, settings, OnnxOptions(threads=threads))


def tiling_config(name_or_path: str | Path, tiles: bool | None = None) -> TilingConfig | None:
    """How to tile wide frames for a model, None for the whole frame only: its card's `inference.tiling` entry.

    The entry is `true`, `false`, or the fields of `TilingConfig` (`{}`: the defaults); a card without it, and a
    weights file given by path, mean whole frame only. `tiles` overrides the card: True tiles (with the card's
    settings when it has them), False never tiles. `load_detector` applies it.
    """
    if tiles is False:
        return None
    card: dict[str, Any] = {}
    if Path(name_or_path).suffix not in (".onnx", ".pt"):
        card = model_card(str(name_or_path))
    inference = card.get("inference", {})
    if not isinstance(inference, dict):
        raise ModelLoadError(f"model {name_or_path!r}: card.json inference must be an object, got {inference!r}")
    entry = inference.get("tiling")
    if entry is None or entry is False:
        return TilingConfig() if tiles else None
    if entry is True:
        return TilingConfig()
    try:
        return TilingConfig.model_validate(entry)
    except ValueError as error:  # pydantic's ValidationError is a ValueError
        raise ModelLoadError(f"model {name_or_path!r}: card.json inference.tiling is not valid: {error}") from error


def _model_dir(reference: str) -> Path:
    name, _, version = reference.partition("@")
    registered = versions.version_dir(reference)  # retrained versions live outside git
    if registered is not None:
        return registered
    folder = _named_dir(name)
    if version:
        with (folder / "card.json").open(encoding="utf-8") as handle:
            shipped = json.load(handle).get("version")
        if shipped != version:
            raise ModelLoadError(f"the zoo has {name} version {shipped}, not {version}")
    return folder


def _named_dir(name: str) -> Path:
    folder = ZOO_DIR / name
    if not (folder / "card.json").is_file():
        known = ", ".join(list_models()) or "none"
        raise ModelLoadError(f"no model {name!r} in the zoo {ZOO_DIR}; known models: {known}")
    return folder
