"""The served model and its hot swap; the model endpoints edge devices update from are `routes.models`.

`ServedModel` holds the server's detector and the `name@version` it was loaded from. Unless the server is pinned
to one model (`STREETWATCH_MODEL`), it follows the registry's current model (`models.registry.current_model`):
at most once per `check_seconds` it looks at the pointer, and when it changed it verifies the new version's files
against their card's sha256, loads it, and only then swaps the reference in one assignment. A request already
running keeps the detector it took; a version whose files do not verify or load is refused (logged, remembered)
and the old one keeps serving (at start, with nothing served yet, the zoo default).

Edge devices poll `GET /api/v1/models/current` (the reference and each file's sha256 and size), download a changed
file from `GET /api/v1/models/{reference}/files/{file}` and check its sha256 before they use it
(`vision.model_updates`).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from models.registry import DEFAULT_MODEL, ModelFormat, current_model, load_detector, versioned
from models.registry import model_file as registry_file
from models.versions import read_card, verify_files
from vision.detector import Detector
from vision.errors import StreetWatchError
from vision.yolo_head import DetectionSettings

logger = logging.getLogger(__name__)
SERVED_FILES = ("model.onnx", "model.int8.onnx")


def full_reference(reference: str) -> str:
    """`name@version` for a zoo name or a registered reference."""
    return reference if Path(reference).suffix in (".onnx", ".pt") else versioned(reference)


def model_folder(reference: str) -> Path:
    return registry_file(reference, ModelFormat.ONNX).parent


class ServedModel:
    """The server's detector, swapped for the registry's current model when that changes."""

    def __init__(
        self,
        pinned: str = "",
        check_seconds: float = 1.0,
        tiles: bool | None = None,
        detection: DetectionSettings | None = None,
    ) -> None:
        self.pinned = pinned
        self.tiles = tiles  # None: each model tiles wide frames as its card says
        self.detection = detection  # None: the backends' defaults
        self.check_seconds = check_seconds
        self._lock = threading.Lock()
        self._loaded: tuple[Detector, str] | None = None
        self._checked = 0.0
        self._refused: set[str] = set()

    def wanted(self) -> str:
        return full_reference(self.pinned or current_model())

    def current(self) -> tuple[Detector, str]:
        """The detector to use now and its `name@version`; loads the first one, swaps when the pointer moved."""
        loaded = self._loaded
        now = time.monotonic()
        if loaded is not None and (self.pinned or now - self._checked < self.check_seconds):
            return loaded
        with self._lock:
            self._checked = now
            wanted = self.wanted()
            if self._loaded is not None and (wanted == self._loaded[1] or wanted in self._refused):
                return self._loaded
            try:
                if "@" in wanted:
                    verify_files(model_folder(wanted))
                detector = load_detector(wanted, settings=self.detection, tiles=self.tiles)
            except (StreetWatchError, OSError, ValueError, KeyError) as error:
                if self._loaded is None:  # nothing serves yet: the shipped default, unless pinned to this one
                    if self.pinned or wanted == versioned(DEFAULT_MODEL):
                        raise
                    logger.error("model %s refused, starting on the zoo default: %s", wanted, error)
                    default = load_detector(DEFAULT_MODEL, settings=self.detection, tiles=self.tiles)
                    self._loaded = (default, versioned(DEFAULT_MODEL))
                self._refused.add(wanted)
                logger.error("model %s refused, %s keeps serving: %s", wanted, self._loaded[1], error)
                return self._loaded
            if self._loaded is not None:
                logger.info("hot swap: %s → %s", self._loaded[1], wanted)
            self._loaded = (detector, wanted)
            return self._loaded


def file_info(folder: Path, name: str) -> dict[str, Any]:
    """A model file's sha256 (from its card) and size."""
    card = read_card(folder)
    return {"sha256": card.get("files", {}).get(name), "size": (folder / name).stat().st_size}
