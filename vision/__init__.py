"""Inference-time computer vision: detections, detectors, pre/post-processing, taxonomy.

Backends are imported from their own modules (`vision.onnx_backend`, `vision.ultralytics_backend`) so that
importing `vision` never pulls in onnxruntime, torch or ultralytics.
"""

from vision.detections import Detections
from vision.detector import Detector
from vision.errors import ImageError, ModelLoadError, StreetWatchError
from vision.taxonomy import Taxonomy, load_taxonomy
from vision.yolo_head import DetectionSettings

__all__ = [
    "DetectionSettings",
    "Detections",
    "Detector",
    "ImageError",
    "ModelLoadError",
    "StreetWatchError",
    "Taxonomy",
    "load_taxonomy",
]
