"""Edge devices follow the server's current model without a restart.

`ModelUpdater.check()` asks the server which model serves (`GET /api/v1/models/current`: reference, sha256 and size
of each ONNX file); when the sha256 of the file this device runs changed, it downloads the file, refuses it unless
its bytes have that sha256, writes it atomically next to the earlier ones and returns its path. `SwappableDetector`
wraps the running detector so the pipeline's next frame uses the new one; a frame already in `detect` finishes on
the old one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from vision.detections import Detections
from vision.detector import Detector
from vision.errors import ModelLoadError
from vision.files import write_atomic
from vision.images import ImageArray
from vision.server_client import ServerClient

logger = logging.getLogger(__name__)
Fetch = Callable[[str, dict[str, str]], bytes]


def _urlopen(url: str, headers: dict[str, str]) -> bytes:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60) as response:
        data: bytes = response.read()
    return data


def served_file(int8: bool) -> str:
    """The model file an edge device runs and follows: the int8 or the fp32 ONNX."""
    return "model.int8.onnx" if int8 else "model.onnx"


class ModelUpdater:
    """Downloads the server's current model file when it changes, checked against its sha256."""

    def __init__(
        self, server: ServerClient, folder: Path, file: str = "model.int8.onnx", fetch: Fetch | None = None
    ) -> None:
        if file not in ("model.onnx", "model.int8.onnx"):
            raise ValueError(f"file must be model.onnx or model.int8.onnx, got {file!r}")
        self.server = server
        self.folder = folder
        self.file = file
        self.fetch = fetch or _urlopen
        self.reference = ""
        self.sha256 = ""
        self.path: Path | None = None

    def check(self) -> Path | None:
        """The path of the model file to run now (downloaded and verified); None when this device runs it already."""
        info = json.loads(self.fetch(self.server.current_model, self.server.headers))
        reference, expected = info["reference"], info["files"][self.file]["sha256"]
        if expected == self.sha256:
            if reference == self.reference or self.path is None:
                return None
            self.reference = reference  # the same bytes promoted under a new version: only the tag changes
            return self.path
        data = self.fetch(self.server.model_file(reference, self.file), self.server.headers)
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            raise ModelLoadError(f"{reference} {self.file}: downloaded sha256 {actual} is not the server's {expected}")
        target = self.folder / f"{reference.replace('@', '_')}.{self.file}"
        write_atomic(target, data)
        self.reference, self.sha256, self.path = reference, expected, target
        logger.info("model %s downloaded (%d bytes, sha256 verified)", reference, len(data))
        return target


class SwappableDetector:
    """A `Detector` whose model can be replaced while the pipeline runs."""

    def __init__(self, detector: Detector) -> None:
        self._detector = detector
        self._lock = threading.Lock()

    def swap(self, detector: Detector) -> None:
        if tuple(detector.class_names) != tuple(self._detector.class_names):
            raise ModelLoadError(f"new model predicts {detector.class_names}, not {self._detector.class_names}")
        with self._lock:
            self._detector = detector

    @property
    def class_names(self) -> tuple[str, ...]:
        return self._detector.class_names

    @property
    def input_size(self) -> tuple[int, int]:
        return self._detector.input_size

    def detect(self, image: ImageArray) -> Detections:
        return self._detector.detect(image)

    def detect_batch(self, images: Sequence[ImageArray]) -> list[Detections]:
        return self._detector.detect_batch(images)
