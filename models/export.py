"""Export a YOLO checkpoint to ONNX fp32 and statically quantized ONNX int8, and check both against PyTorch."""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models.onnx_graph import metadata, rewrite_dfl_softmax, set_metadata
from vision.detector import Detector
from vision.images import load_image
from vision.letterbox import letterbox, to_blob
from vision.matching import match_detections
from vision.ultralytics_env import import_ultralytics

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class QuantizationConfig:
    """Static int8 quantization: which layers stay fp32 and how activations are calibrated."""

    # Decode (DFL, anchors, concat of boxes and scores) must stay fp32: boxes and sigmoid scores would otherwise
    # share one uint8 range and every score rounds to 0. The layers listed here were chosen by measuring, for each
    # block, how many fp32 detections the int8 model keeps with that block left in fp32 (see docs/int8.md).
    fp32_prefixes: tuple[str, ...] = ("/model.1/", "/model.2/")
    # Percentile keeps ~88% of fp32 detections where MinMax keeps ~79% (measured, docs/int8.md).
    calibration_method: str = "Percentile"
    # The calibrator holds every intermediate tensor of the images it has seen (~270 MB per image at 640 px);
    # feeding it in chunks merges the histograms chunk by chunk instead, so memory stays flat.
    calibration_chunk: int = 8


@dataclass(frozen=True)
class AccuracyCheck:
    """How an exported model's detections compare with the PyTorch model's on the same images."""

    label: str
    images: int
    reference_boxes: int
    candidate_boxes: int
    matched: int
    mean_iou: float
    min_iou: float
    max_confidence_delta: float

    @property
    def kept(self) -> float:
        """Share of reference boxes the exported model found again (same class, IoU >= 0.5)."""
        return 1.0 if self.reference_boxes == 0 else self.matched / self.reference_boxes


@dataclass(frozen=True)
class ExportResult:
    """Paths written by `export_model` and the accuracy of each export."""

    onnx: Path
    onnx_int8: Path
    checks: list[AccuracyCheck] = field(default_factory=list)


def export_onnx(weights: Path, output: Path, imgsz: int = 640) -> Path:
    """Export `weights` to ONNX fp32: dynamic batch, height and width (up to `imgsz`), names in the metadata."""
    import onnx
    import onnxslim

    ultralytics = import_ultralytics()
    with tempfile.TemporaryDirectory() as tmp:
        # Ultralytics writes next to the checkpoint, which may sit in a read-only folder.
        local = Path(tmp) / "model.pt"
        shutil.copyfile(weights, local)
        exported = ultralytics.YOLO(str(local)).export(format="onnx", imgsz=imgsz, dynamic=True, simplify=True)
        model = onnx.load(str(exported))
    slim = onnxslim.slim(model)
    if not rewrite_dfl_softmax(slim):
        logger.warning("%s: no DFL softmax pattern found; exported graph left as ultralytics wrote it", weights)
    onnx.checker.check_model(slim)
    set_metadata(slim, {"imgsz": f"[{imgsz}, {imgsz}]", "precision": "fp32", "batch": "dynamic"})
    output.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(slim, str(output))
    return output


def quantize_int8(
    fp32_model: Path,
    output: Path,
    calibration_images: Sequence[Path],
    config: QuantizationConfig = QuantizationConfig(),
) -> Path:
    """Static QDQ int8 quantization calibrated on `calibration_images`; decode and listed layers stay fp32."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    usable = len(calibration_images) - len(calibration_images) % config.calibration_chunk
    if usable == 0:
        raise ValueError(
            f"int8 quantization needs at least {config.calibration_chunk} calibration images, "
            f"got {len(calibration_images)}"
        )
    calibration_images = calibration_images[:usable]  # onnxruntime wants whole chunks
    model = onnx.load(str(fp32_model))
    imgsz = metadata(model)["imgsz"]
    size = int(imgsz.strip("[]").split(",")[0])
    excluded = [node.name for node in model.graph.node if _stays_fp32(node.name, config)]
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(fp32_model), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared),
            str(output),
            _CalibrationReader(calibration_images, size),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            nodes_to_exclude=excluded,
            calibrate_method=CalibrationMethod[config.calibration_method],
            # despite its name, this makes onnxruntime collect (and merge) per chunk for every method
            extra_options={"CalibStridedMinMax": config.calibration_chunk},
        )
    quantized = onnx.load(str(output))
    set_metadata(
        quantized, {**metadata(model), "precision": "int8", "calibration_images": str(len(calibration_images))}
    )
    onnx.save(quantized, str(output))
    return output


def check_accuracy(label: str, reference: Detector, candidate: Detector, images: Sequence[Path]) -> AccuracyCheck:
    """Run both detectors on `images` and match their boxes (same class, IoU >= 0.5)."""
    matches = []
    for path in images:
        image = load_image(path)
        matches.append(match_detections(reference.detect(image), candidate.detect(image), min_iou=0.5))
    ious = np.concatenate([m.iou for m in matches]) if matches else np.zeros(0)
    deltas = np.concatenate([m.confidence_delta for m in matches]) if matches else np.zeros(0)
    return AccuracyCheck(
        label=label,
        images=len(images),
        reference_boxes=sum(m.reference_count for m in matches),
        candidate_boxes=sum(m.candidate_count for m in matches),
        matched=sum(len(m.reference_index) for m in matches),
        mean_iou=float(ious.mean()) if ious.size else 1.0,
        min_iou=float(ious.min()) if ious.size else 1.0,
        max_confidence_delta=float(deltas.max()) if deltas.size else 0.0,
    )


def _stays_fp32(node_name: str, config: QuantizationConfig) -> bool:
    in_head = node_name.startswith("/model.22/")
    head_conv = "/cv2." in node_name or "/cv3." in node_name
    return (in_head and not head_conv) or node_name.startswith(config.fp32_prefixes)


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
