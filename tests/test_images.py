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

    from vision.image_headers import peek_size
    from vision.images import ImageLimits, decode_image

    bomb = cv2.imencode(".png", np.zeros((3000, 4000), np.uint8))[1].tobytes()  # 12 Mpx in a few kB
    assert peek_size(bomb) == (4000, 3000)
    assert peek_size(cv2.imencode(".jpg", np.zeros((30, 40, 3), np.uint8))[1].tobytes()) == (40, 30)
    assert peek_size(b"GIF89a....") is None
    with pytest.raises(ImageError, match=r"4000x3000 px = 12000000 pixels is more than the limit of 1000000"):
        decode_image(bomb, ImageLimits(max_pixels=1_000_000))


def lying_jpeg(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header claims width x height, with a junk byte before its SOF marker."""
    data = cv2.imencode(".jpg", np.full((8, 8, 3), 128, np.uint8))[1].tobytes()
    sof = data.index(b"\xff\xc0")
    header = data[sof : sof + 5] + height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return data[:sof] + b"\x00" + header + data[sof + 9 :]


def _no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object) -> None:
        raise AssertionError("the decoder was called")

    monkeypatch.setattr(cv2, "imdecode", refuse)


def test_junk_before_the_frame_header_does_not_hide_a_bomb(monkeypatch: pytest.MonkeyPatch) -> None:
    from vision.image_headers import peek_size

    bomb = lying_jpeg(20000, 20000)
    assert len(bomb) < 1000 and peek_size(bomb) == (20000, 20000)
    _no_decoding(monkeypatch)
    with pytest.raises(ImageError, match=r"20000x20000 px = 400000000 pixels is more than the limit of 50000000"):
        decode_image(bomb, ImageLimits(max_pixels=50_000_000))


def test_the_header_is_read_as_the_decoder_reads_it() -> None:
    """Junk and fill bytes before a marker, as libjpeg skips them; the image then decodes at the size peeked."""
    from vision.image_headers import peek_size

    image = lying_jpeg(8, 8)
    padded = image.replace(b"\x00\xff\xc0", b"\x00\x17\xff\xff\xff\xc0")
    for data in (image, padded):
        assert peek_size(data) == (8, 8)
        assert decode_image(data).shape == (8, 8, 3)


@pytest.mark.parametrize(
    ("suffix", "params"),
    [
        (".jpg", []),
        (".jpg", [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]),
        (".png", []),
        (".bmp", []),
        (".tiff", []),
        (".webp", [cv2.IMWRITE_WEBP_QUALITY, 80]),
        (".webp", [cv2.IMWRITE_WEBP_QUALITY, 101]),  # lossless
    ],
)
def test_each_accepted_format_gives_its_size_from_the_header(suffix: str, params: list[int]) -> None:
    from vision.image_headers import peek_size

    data = cv2.imencode(suffix, np.full((30, 40, 3), 90, np.uint8), params)[1].tobytes()
    assert peek_size(data) == (40, 30)
    assert decode_image(data).shape == (30, 40, 3)


@pytest.mark.parametrize("suffix", [".ppm", ".pgm", ".pbm", ".ras", ".hdr", ".pfm", ".pam"])
def test_formats_whose_size_is_not_read_are_refused_without_decoding(
    monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    """OpenCV decodes these too, but a size we did not read ourselves is a size we cannot bound."""
    pixels = np.full((30, 40) if suffix in (".pgm", ".pbm") else (30, 40, 3), 90, np.uint8)
    data = cv2.imencode(suffix, pixels.astype(np.float32) if suffix == ".pfm" else pixels)[1].tobytes()
    assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) is not None  # OpenCV would decode it
    _no_decoding(monkeypatch)
    with pytest.raises(ImageError, match="no size in its header"):
        decode_image(data)


def test_opencv_own_pixel_limit_is_set_before_cv2_loads(tmp_path: Path) -> None:
    """The second fence: a process that starts through `inference_server` cannot decode past the configured limit."""
    import os
    import subprocess
    import sys

    image = tmp_path / "wide.png"
    image.write_bytes(cv2.imencode(".png", np.zeros((1000, 1100), np.uint8))[1].tobytes())
    script = (
        "import inference_server, cv2, numpy as np, sys\n"
        f"data = np.fromfile({str(image)!r}, np.uint8)\n"
        "try:\n    cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)\nexcept cv2.error as error:\n    sys.exit(error.err)\n"
    )
    env = {**os.environ, "STREETWATCH_MAX_IMAGE_PIXELS": "1000000"}
    env.pop("OPENCV_IO_MAX_IMAGE_PIXELS", None)
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert "CV_IO_MAX_IMAGE_PIXELS" in result.stderr
