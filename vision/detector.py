"""The `Detector` protocol every backend implements, and shared input preparation."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from vision.detections import Detections
from vision.images import ImageArray, as_bgr
from vision.letterbox import LetterboxTransform, letterbox, to_blob


@runtime_checkable
class Detector(Protocol):
    """Finds objects in BGR uint8 images. Implementations keep no per-call state: safe to share across threads."""

    @property
    def class_names(self) -> tuple[str, ...]:
        """Class names in class-id order."""
        ...

    @property
    def input_size(self) -> tuple[int, int]:
        """Network input (height, width) that images are letterboxed to."""
        ...

    def detect(self, image: ImageArray) -> Detections:
        """Detections in one image (H, W, 3) BGR uint8; gray or BGRA arrays are converted."""
        ...

    def detect_batch(self, images: Sequence[ImageArray]) -> list[Detections]:
        """Detections for each image, in order."""
        ...


# Every YOLOv8 input side must be a multiple of the largest feature-map stride.
MAX_STRIDE = 32


def prepare_batch(
    images: Sequence[npt.NDArray[np.generic]], input_size: tuple[int, int], rect: bool = False
) -> tuple[npt.NDArray[np.float32], list[LetterboxTransform]]:
    """Validate and letterbox images into one float32 NCHW batch plus the transforms to undo it.

    `rect`: when all images share one shape, pad to the smallest multiple of 32 instead of the full input size
    (what ultralytics' predict does); mixed shapes always get the full size so they stack.
    """
    checked = [as_bgr(image, name=f"image #{index}") for index, image in enumerate(images)]
    same_shape = len({image.shape for image in checked}) == 1
    stride = MAX_STRIDE if rect and same_shape else None
    boxed, transforms = [], []
    for image in checked:
        padded, transform = letterbox(image, input_size, stride)
        boxed.append(padded)
        transforms.append(transform)
    return to_blob(boxed), transforms


class DetectorBase(ABC):
    """What every backend shares: class names, input size, and `detect` as a batch of one."""

    def __init__(self, class_names: Mapping[Any, Any] | Sequence[Any], input_size: int | Sequence[int]) -> None:
        self._class_names = (
            tuple(str(class_names[key]) for key in sorted(class_names))
            if isinstance(class_names, Mapping)
            else tuple(str(name) for name in class_names)
        )
        if isinstance(input_size, int):
            self._input_size = (input_size, input_size)
        elif len(input_size) == 2:
            self._input_size = (int(input_size[0]), int(input_size[1]))
        else:
            raise ValueError(f"input size must be an int or (height, width), got {input_size!r}")

    @property
    def class_names(self) -> tuple[str, ...]:
        """Class names in class-id order."""
        return self._class_names

    @property
    def input_size(self) -> tuple[int, int]:
        """Network input (height, width) that images are letterboxed to."""
        return self._input_size

    def detect(self, image: ImageArray) -> Detections:
        """Detections in one BGR uint8 image."""
        return self.detect_batch([image])[0]

    @abstractmethod
    def detect_batch(self, images: Sequence[ImageArray]) -> list[Detections]:
        """Detections for each image, in order."""
