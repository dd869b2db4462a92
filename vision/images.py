"""Reading and checking images before they reach a detector."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from vision.errors import ImageError
from vision.image_headers import peek_size

ImageArray = npt.NDArray[np.uint8]
# the file names taken as photos wherever a folder is read (detect, image-folder sources, dataset sources, reviews):
# formats whose size `vision.image_headers` reads before decoding
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


@dataclass(frozen=True)
class ImageLimits:
    """Upper bounds for an accepted image; 10,000 x 10,000 px fits, a decompression bomb does not."""

    max_bytes: int = 64 * 1024 * 1024
    max_pixels: int = 120_000_000


def load_image(path: Path | str, limits: ImageLimits = ImageLimits()) -> ImageArray:
    """Read an image file as BGR uint8 (H, W, 3); `ImageError` says why a file is not usable."""
    file = Path(path)
    if not file.is_file():
        raise ImageError(f"{file}: no such image file")
    size = file.stat().st_size
    if size == 0:
        raise ImageError(f"{file}: empty file (0 bytes)")
    if size > limits.max_bytes:
        raise ImageError(f"{file}: {size} bytes is larger than the limit of {limits.max_bytes} bytes")
    return decode_image(file.read_bytes(), limits, name=str(file))


def decode_image(data: bytes, limits: ImageLimits = ImageLimits(), name: str = "image") -> ImageArray:
    """Decode encoded image bytes (JPEG, PNG, ...) to BGR uint8; grayscale and alpha become 3-channel BGR."""
    if not data:
        raise ImageError(f"{name}: empty data (0 bytes)")
    if len(data) > limits.max_bytes:
        raise ImageError(f"{name}: {len(data)} bytes is larger than the limit of {limits.max_bytes} bytes")
    size = peek_size(data)
    if size is None:  # never let a decoder find the size: it would allocate whatever the file claims
        raise ImageError(
            f"{name}: not a decodable image (no size in its header; expected JPEG, PNG, BMP, TIFF or WebP)"
        )
    width, height = size
    if width * height > limits.max_pixels:  # refuse a decompression bomb before decoding
        raise ImageError(
            f"{name}: {width}x{height} px = {height * width} pixels is more than the limit of {limits.max_pixels}"
        )
    buffer = np.frombuffer(data, dtype=np.uint8)
    try:
        image = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    except cv2.error as error:  # OpenCV refuses images past its own pixel limit with an exception
        raise ImageError(f"{name}: cannot decode ({error.err})") from error
    if image is None:
        raise ImageError(f"{name}: not a decodable image (expected JPEG, PNG, BMP, TIFF or WebP data)")
    check_image(image, limits, name)
    return np.asarray(image, dtype=np.uint8)


def check_image(image: npt.NDArray[np.generic], limits: ImageLimits = ImageLimits(), name: str = "image") -> None:
    """Raise `ImageError` unless `image` is a non-empty uint8 array within the pixel limit."""
    if not isinstance(image, np.ndarray):
        raise ImageError(f"{name}: expected a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ImageError(f"{name}: expected dtype uint8, got {image.dtype}")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise ImageError(f"{name}: expected shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got {image.shape}")
    height, width = image.shape[:2]
    if height == 0 or width == 0:
        raise ImageError(f"{name}: image has zero size ({width}x{height} px)")
    if height * width > limits.max_pixels:
        raise ImageError(
            f"{name}: {width}x{height} px = {height * width} pixels is more than the limit of {limits.max_pixels}"
        )


def as_bgr(image: npt.NDArray[np.generic], limits: ImageLimits = ImageLimits(), name: str = "image") -> ImageArray:
    """Validate an image array and return it as BGR uint8 (H, W, 3); gray and BGRA are converted."""
    check_image(image, limits, name)
    pixels = np.asarray(image, dtype=np.uint8)
    if pixels.ndim == 2 or pixels.shape[2] == 1:
        return np.asarray(cv2.cvtColor(pixels.reshape(pixels.shape[:2]), cv2.COLOR_GRAY2BGR), dtype=np.uint8)
    if pixels.shape[2] == 4:
        return np.asarray(cv2.cvtColor(pixels, cv2.COLOR_BGRA2BGR), dtype=np.uint8)
    return pixels
