"""Export a YOLO checkpoint to ONNX fp32, and check exported models against the PyTorch model."""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.onnx_graph import rewrite_dfl_softmax, set_metadata
from vision.detector import Detector
from vision.images import load_image
from vision.matching import match_detections
from vision.ultralytics_env import import_ultralytics

logger = logging.getLogger(__name__)


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
