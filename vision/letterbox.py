"""Letterbox resize (same arithmetic as ultralytics' `LetterBox`) and its inverse for boxes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

PAD_VALUE = 114


@dataclass(frozen=True)
class LetterboxTransform:
    """How an original image was placed in the network input: per-axis gain and top-left padding."""

    original_hw: tuple[int, int]
    gain_x: float
    gain_y: float
    pad_x: int
    pad_y: int

    def to_original(self, xyxy: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Map boxes from network-input pixels back to original-image pixels, clipped to the image."""
        boxes = np.asarray(xyxy, dtype=np.float32).copy()
        boxes[:, [0, 2]] = (boxes[:, [0, 2]] - self.pad_x) / self.gain_x
        boxes[:, [1, 3]] = (boxes[:, [1, 3]] - self.pad_y) / self.gain_y
        height, width = self.original_hw
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height)
        return boxes


def letterbox(
    image: npt.NDArray[np.uint8], size: tuple[int, int], stride: int | None = None
) -> tuple[npt.NDArray[np.uint8], LetterboxTransform]:
    """Resize `image` (H, W, 3) to fit `size` (height, width) keeping its aspect ratio, pad the rest with grey.

    With `stride`, pad only up to the next multiple of `stride` (ultralytics' "rect" mode: a 16:9 frame becomes
    640 x 384 instead of 640 x 640, 40% less work); without, fill `size` exactly.
    """
    height, width = image.shape[:2]
    target_h, target_w = size
    ratio = min(target_h / height, target_w / width)
    new_w, new_h = max(round(width * ratio), 1), max(round(height * ratio), 1)
    pad_w, pad_h = float(target_w - new_w), float(target_h - new_h)
    if stride is not None:
        pad_w, pad_h = pad_w % stride, pad_h % stride
    pad_w, pad_h = pad_w / 2, pad_h / 2
    top, bottom = round(pad_h - 0.1), round(pad_h + 0.1)
    left, right = round(pad_w - 0.1), round(pad_w + 0.1)
    resized = (
        image
        if (width, height) == (new_w, new_h)
        else cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    )
    padded = cv2.copyMakeBorder(resized, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3)
    transform = LetterboxTransform((height, width), new_w / width, new_h / height, left, top)
    return np.asarray(padded, dtype=np.uint8), transform


def to_blob(images: Sequence[npt.NDArray[np.uint8]]) -> npt.NDArray[np.float32]:
    """Stack letterboxed BGR uint8 images into an RGB float32 NCHW batch scaled to [0, 1]."""
    batch = np.stack(images)[..., ::-1].transpose(0, 3, 1, 2)
    return np.ascontiguousarray(batch, dtype=np.float32) / np.float32(255.0)
