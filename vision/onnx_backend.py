"""`OnnxDetector`: YOLOv8 detection with onnxruntime only (no torch, no ultralytics) for edge boxes and CPUs."""

from __future__ import annotations

import ast
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from vision.detections import Detections
from vision.detector import DetectorBase, prepare_batch
from vision.errors import ModelLoadError
from vision.images import ImageArray
from vision.yolo_head import DetectionSettings, decode_yolo_output

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OnnxOptions:
    """Runtime options: execution providers (None = CUDA when available, else CPU), threads, batch chunk."""

    providers: tuple[str, ...] | None = None
    threads: int | None = None
    max_batch: int = 16


def default_providers() -> tuple[str, ...]:
    """CUDA first when this onnxruntime build and machine have it, CPU always."""
    available = ort.get_available_providers()
    if "CUDAExecutionProvider" in available:
        return ("CUDAExecutionProvider", "CPUExecutionProvider")
    return ("CPUExecutionProvider",)


def read_metadata(session: ort.InferenceSession, path: Path) -> tuple[Any, Any]:
    """Class names and input size as stored in the model's metadata (written by `streetwatch export`)."""
    meta = session.get_modelmeta().custom_metadata_map
    try:
        names: Any = ast.literal_eval(meta["names"])
    except (KeyError, ValueError, SyntaxError) as error:
        raise ModelLoadError(
            f"{path}: ONNX metadata has no readable 'names' entry; export the model with `streetwatch export`"
        ) from error
    imgsz: Any = ast.literal_eval(meta.get("imgsz", "None"))
    if imgsz is None:
        shape = session.get_inputs()[0].shape
        if not all(isinstance(s, int) for s in shape[2:]):
            raise ModelLoadError(f"{path}: no 'imgsz' in metadata and the input size is dynamic {shape}")
        imgsz = shape[2:]
    return names, imgsz


class OnnxDetector(DetectorBase):
    """YOLOv8 ONNX model run with onnxruntime: letterbox → network → decode + class-wise NMS in numpy."""

    def __init__(
        self,
        model_path: Path | str,
        settings: DetectionSettings = DetectionSettings(),
        options: OnnxOptions = OnnxOptions(),
    ) -> None:
        path = Path(model_path)
        if not path.is_file():
            raise ModelLoadError(f"{path}: model file not found")
        session_options = ort.SessionOptions()
        if options.threads is not None:
            session_options.intra_op_num_threads = options.threads
            session_options.inter_op_num_threads = 1
        providers = list(options.providers or default_providers())
        try:
            self._session = ort.InferenceSession(str(path), session_options, providers=providers)
        except Exception as error:  # onnxruntime raises its own pybind types for every kind of bad file
            raise ModelLoadError(f"{path}: not a loadable ONNX model ({type(error).__name__}: {error})") from error
        super().__init__(*read_metadata(self._session, path))
        model_input = self._session.get_inputs()[0]
        self._input_name = model_input.name
        self._fixed_batch = model_input.shape[0] if isinstance(model_input.shape[0], int) else None
        # Models exported with dynamic height and width take minimal-rectangle inputs; fixed ones need the square.
        self._rect = settings.rect and not all(isinstance(side, int) for side in model_input.shape[2:])
        self.path = path
        self.settings = settings
        self.options = options
        logger.info(
            "loaded ONNX model %s: %d classes, input %s, providers %s",
            path,
            len(self._class_names),
            self._input_size,
            self._session.get_providers(),
        )

    @property
    def providers(self) -> list[str]:
        """Execution providers onnxruntime actually uses, in priority order."""
        return list(self._session.get_providers())

    def detect_batch(self, images: Sequence[ImageArray]) -> list[Detections]:
        """Detections per image; images are sent in chunks the model's batch dimension allows."""
        chunk = self._fixed_batch or max(1, self.options.max_batch)
        results: list[Detections] = []
        for start in range(0, len(images), chunk):
            part = images[start : start + chunk]
            blob, transforms = prepare_batch(part, self._input_size, rect=self._rect)
            if self._fixed_batch and len(part) < self._fixed_batch:
                padding = np.zeros((self._fixed_batch - len(part), *blob.shape[1:]), dtype=blob.dtype)
                blob = np.concatenate([blob, padding])
            output = self._session.run(None, {self._input_name: blob})[0]
            results.extend(decode_yolo_output(output[: len(part)], transforms, self.settings))
        return results
