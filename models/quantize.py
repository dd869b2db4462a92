"""Static int8 quantization of an exported YOLOv8 ONNX model (QDQ, calibrated on real street photos).

Measured choices are explained in docs/int8.md; in short: decode stays fp32, blocks 0-2 stay fp32, activations are
calibrated with the Percentile method, and the ranges of tensors that feed a SiLU are floored at -4.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.onnx_graph import metadata, set_metadata, silu_inputs
from vision.images import load_image
from vision.letterbox import letterbox, to_blob

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class QuantizationConfig:
    """Which layers stay fp32 and how activation ranges are calibrated."""

    # Decode (DFL, anchors, concat of boxes and scores) always stays fp32: boxes and sigmoid scores would otherwise
    # share one uint8 range and every score rounds to 0. Blocks 1-2 were the most sensitive in a per-block sweep;
    # block 0 (the stem: 3 input channels at full resolution) is both more accurate and faster in fp32.
    fp32_prefixes: tuple[str, ...] = ("/model.0/", "/model.1/", "/model.2/")
    # Percentile keeps more fp32 detections than MinMax (88% vs 79% before the SiLU floor, docs/int8.md).
    calibration_method: str = "Percentile"
    # The calibrator holds every intermediate tensor of the images it has seen (~270 MB per image at 640 px);
    # feeding it in chunks merges the histograms chunk by chunk instead, so memory stays flat (~3 GB).
    calibration_chunk: int = 8
    # A convolution's output feeds SiLU, which maps everything below about -4 to almost 0 (SiLU(-4) = -0.07).
    # The calibrated range reaches -15 and lower, spending most of the 256 uint8 steps on values SiLU discards;
    # flooring it at -4 halves the step for the values that matter. None keeps the calibrated range.
    silu_input_floor: float | None = -4.0


def quantize_int8(
    fp32_model: Path,
    output: Path,
    calibration_images: Sequence[Path],
    config: QuantizationConfig = QuantizationConfig(),
) -> Path:
    """Static QDQ int8 quantization calibrated on `calibration_images` (whole chunks of them are used)."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    usable = len(calibration_images) - len(calibration_images) % config.calibration_chunk
    if usable == 0:
        raise ValueError(
            f"int8 quantization needs at least {config.calibration_chunk} calibration images, "
            f"got {len(calibration_images)}"
        )
    images = list(calibration_images[:usable])  # onnxruntime wants whole chunks
    model = onnx.load(str(fp32_model))
    size = int(metadata(model)["imgsz"].strip("[]").split(",")[0])
    with tempfile.TemporaryDirectory() as tmp:
        prepared, cache = Path(tmp) / "prepared.onnx", Path(tmp) / "ranges.json"
        quant_pre_process(str(fp32_model), str(prepared), skip_symbolic_shape=True)
        graph = onnx.load(str(prepared))
        options: dict[str, Any] = {
            "quant_format": QuantFormat.QDQ,
            "activation_type": QuantType.QUInt8,
            "weight_type": QuantType.QInt8,
            "per_channel": True,
            "nodes_to_exclude": [node.name for node in graph.graph.node if _stays_fp32(node.name, config)],
            "calibrate_method": CalibrationMethod[config.calibration_method],
            # despite its name, this makes onnxruntime collect (and merge) per chunk for every method
            "extra_options": {"CalibStridedMinMax": config.calibration_chunk},
        }
        # First pass calibrates and caches the ranges; the second quantizes with the edited ranges.
        reader = _CalibrationReader(images, size)
        quantize_static(str(prepared), str(output), reader, calibration_cache_path=str(cache), **options)
        if config.silu_input_floor is not None:
            floored = floor_ranges(cache, silu_inputs(graph), config.silu_input_floor)
            logger.info("floored the range of %d SiLU inputs at %s", floored, config.silu_input_floor)
            quantize_static(str(prepared), str(output), None, calibration_cache_path=str(cache), **options)
    quantized = onnx.load(str(output))
    set_metadata(quantized, {**metadata(model), "precision": "int8", "calibration_images": str(len(images))})
    onnx.save(quantized, str(output))
    return output


def floor_ranges(cache: Path, tensors: set[str], floor: float) -> int:
    """Raise the calibrated minimum of `tensors` to `floor` in an onnxruntime range cache; returns how many."""
    payload = json.loads(cache.read_text())
    changed = 0
    for name in tensors & payload["data"].keys():
        entry = payload["data"][name]
        # onnxruntime stores a bound as a number, or as {"data": number-or-list, "dtype": ..., "CLS": ...}
        holder, key = (entry["lowest"], "data") if isinstance(entry["lowest"], dict) else (entry, "lowest")
        value = np.asarray(holder[key], dtype=np.float64)
        if value.min() < floor:
            holder[key] = np.maximum(value, floor).tolist()
            changed += 1
    cache.write_text(json.dumps(payload))
    return changed


def _stays_fp32(node_name: str, config: QuantizationConfig) -> bool:
    # Decode: the head's nodes outside its conv branches, and our own rewritten DFL (models.onnx_graph).
    in_decode = node_name.startswith("/streetwatch/") or (
        node_name.startswith("/model.22/") and "/cv2." not in node_name and "/cv3." not in node_name
    )
    return in_decode or node_name.startswith(config.fp32_prefixes)


class _CalibrationReader:
    """Feeds letterboxed calibration images to onnxruntime's calibrator, one at a time."""

    def __init__(self, images: Sequence[Path], size: int) -> None:
        self._images = list(images)
        self._size = size
        self._iterator: Iterator[Path] = iter(self._images)

    def __len__(self) -> int:
        return len(self._images)

    def set_range(self, start_index: int, end_index: int) -> None:
        self._iterator = iter(self._images[start_index:end_index])

    def get_next(self) -> dict[str, np.ndarray] | None:
        path = next(self._iterator, None)
        if path is None:
            return None
        # Full squares: the histogram calibrator stacks each tensor over all images, so shapes must agree.
        boxed, _ = letterbox(load_image(path), (self._size, self._size))
        return {"images": to_blob([boxed])}

    def rewind(self) -> None:
        self._iterator = iter(self._images)
