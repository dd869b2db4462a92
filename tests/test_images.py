from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vision.errors import ImageError
from vision.images import ImageLimits, as_bgr, decode_image, load_image


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.jpg", b"", r"empty file \(0 bytes\)"),
        ("notes.jpg", b"this is a text file, not a photo\n" * 10, "not a decodable image"),
        ("truncated.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "not a decodable image"),
    ],
)
def test_bad_files_name_the_problem(tmp_path: Path, name: str, data: bytes, message: str) -> None:
    path = _write(tmp_path / name, data)
    with pytest.raises(ImageError, match=message) as info:
        load_image(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="no such image file"):
        load_image(tmp_path / "nope.jpg")


def test_too_many_bytes(tmp_path: Path) -> None:
    path = _write(tmp_path / "big.jpg", b"\x00" * 2048)
    with pytest.raises(ImageError, match="larger than the limit of 1024 bytes"):
        load_image(path, ImageLimits(max_bytes=1024))


def test_grayscale_file_becomes_three_channel_bgr(tmp_path: Path) -> None:
    gray = np.full((30, 40), 77, np.uint8)
    path = tmp_path / "gray.png"
    cv2.imwrite(str(path), gray)
    image = load_image(path)
    assert image.shape == (30, 40, 3) and image.dtype == np.uint8 and (image == 77).all()


def test_pixel_limit_names_the_size() -> None:
    ok, encoded = cv2.imencode(".png", np.zeros((200, 300), np.uint8))
    assert ok
    with pytest.raises(ImageError, match=r"300x200 px = 60000 pixels is more than the limit of 50000"):
        decode_image(encoded.tobytes(), ImageLimits(max_pixels=50_000))


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((0, 10, 3), np.uint8), "zero size"),
        (np.zeros((10, 10, 3), np.float32), "expected dtype uint8, got float32"),
        (np.zeros((10, 10, 2), np.uint8), r"expected shape .* got \(10, 10, 2\)"),
        (np.zeros((2, 10, 10, 3), np.uint8), r"got \(2, 10, 10, 3\)"),
    ],
)
def test_bad_arrays_name_the_problem(array: np.ndarray, message: str) -> None:
    with pytest.raises(ImageError, match=message):
        as_bgr(array)


@pytest.mark.parametrize(("shape", "expected"), [((5, 6), (5, 6, 3)), ((5, 6, 1), (5, 6, 3)), ((5, 6, 4), (5, 6, 3))])
def test_gray_and_bgra_arrays_are_converted(shape: tuple[int, ...], expected: tuple[int, ...]) -> None:
    assert as_bgr(np.zeros(shape, np.uint8)).shape == expected


def test_a_decompression_bomb_is_refused_from_its_header() -> None:
    import cv2

    from vision.images import ImageLimits, decode_image, peek_size

    bomb = cv2.imencode(".png", np.zeros((3000, 4000), np.uint8))[1].tobytes()  # 12 Mpx in a few kB
    assert peek_size(bomb) == (4000, 3000)
    assert peek_size(cv2.imencode(".jpg", np.zeros((30, 40, 3), np.uint8))[1].tobytes()) == (40, 30)
    assert peek_size(b"GIF89a....") is None
    with pytest.raises(ImageError, match=r"4000x3000 px = 12000000 pixels is more than the limit of 1000000"):
        decode_image(bomb, ImageLimits(max_pixels=1_000_000))
