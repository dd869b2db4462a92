"""Decode the raw YOLOv8 detection head output `[B, 4 + nc, N]` into `Detections`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vision.detections import Detections
from vision.letterbox import LetterboxTransform
from vision.nms import batched_nms

# Ultralytics caps the candidates that enter NMS; keeping the same cap keeps results identical.
_MAX_NMS_CANDIDATES = 30000


@dataclass(frozen=True)
class DetectionSettings:
    """How detection runs: letterbox mode and the thresholds after the network (ultralytics' predict defaults)."""

    confidence_threshold: float = 0.25
    iou_threshold: float = 0.7
    max_detections: int = 300
    # Minimal-rectangle letterbox for models that accept any input size (PyTorch; ONNX exported with dynamic H, W).
    rect: bool = True

    def __post_init__(self) -> None:
        for name in ("confidence_threshold", "iou_threshold"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        if self.max_detections < 1:
            raise ValueError(f"max_detections must be >= 1, got {self.max_detections}")


def decode_yolo_output(
    output: npt.NDArray[np.float32],
    transforms: list[LetterboxTransform],
    settings: DetectionSettings,
) -> list[Detections]:
    """Turn head output (cx, cy, w, h in input pixels, then sigmoid class scores) into per-image detections."""
    if output.ndim != 3 or output.shape[0] != len(transforms) or output.shape[1] < 5:
        raise ValueError(
            f"expected YOLO head output of shape ({len(transforms)}, 4 + nc, N), got {tuple(output.shape)}"
        )
    return [_decode_one(output[i], transforms[i], settings) for i in range(len(transforms))]


def _decode_one(
    prediction: npt.NDArray[np.float32], transform: LetterboxTransform, settings: DetectionSettings
) -> Detections:
    # prediction is (4 + nc, N); reducing over axis 0 keeps memory access contiguous.
    scores = prediction[4:]
    class_id = scores.argmax(axis=0)
    confidence = scores.max(axis=0)
    candidates = np.nonzero(confidence > settings.confidence_threshold)[0]
    if candidates.size == 0:
        return Detections.empty()
    if candidates.size > _MAX_NMS_CANDIDATES:
        candidates = candidates[np.argsort(-confidence[candidates], kind="stable")[:_MAX_NMS_CANDIDATES]]
    cxcywh = prediction[:4, candidates].T
    xyxy = np.concatenate([cxcywh[:, :2] - cxcywh[:, 2:] / 2, cxcywh[:, :2] + cxcywh[:, 2:] / 2], axis=1)
    keep = batched_nms(xyxy, confidence[candidates], class_id[candidates], settings.iou_threshold)
    keep = keep[: settings.max_detections]
    return Detections(
        transform.to_original(xyxy[keep]),
        confidence[candidates][keep],
        class_id[candidates][keep].astype(np.int64),
    )
