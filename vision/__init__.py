"""Inference-time computer vision: detections, detectors, pre/post-processing, taxonomy.

Backends are imported from their own modules (`vision.onnx_backend`, `vision.ultralytics_backend`) so that
importing `vision` never pulls in onnxruntime, torch or ultralytics.

OpenCV reads its own decoder pixel limit from the environment once, when cv2 is first imported; it is set here, and
the entry points (`streetwatch`, `inference_server`) import `vision` before anything imports cv2. It is a second
fence only: `vision.images` refuses an image by its header first.
"""

import os

# The server's configured limit if set, else `vision.images.ImageLimits`' default (120 Mpx); OpenCV's own is 1 Gpx.
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", os.environ.get("STREETWATCH_MAX_IMAGE_PIXELS", "120000000"))

# isort: split

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
