"""An image's size from its header, read the way its decoder would read it, before any pixel is decoded.

`vision.images` refuses every image whose size this module cannot find: a header that a decoder would read
differently from us (junk before a JPEG marker, a format we do not parse) must never slip through to a decoder
that then allocates whatever the file claims.
"""

from __future__ import annotations

from typing import Literal

# Start-of-frame markers of every JPEG process (baseline, progressive, lossless, arithmetic; not DHT/JPG/DAC).
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_JPEG_NO_LENGTH = frozenset({0x01, 0xD8, *range(0xD0, 0xD8)})  # TEM, SOI, RST0-7


def _jpeg(data: bytes) -> tuple[int, int] | None:
    # libjpeg skips any bytes before a marker (only a warning) and any number of 0xFF fill bytes, so do we.
    i = 2
    while True:
        i = data.find(b"\xff", i)
        if i < 0:
            return None
        while i < len(data) and data[i] == 0xFF:
            i += 1
        if i >= len(data):
            return None
        marker = data[i]
        i += 1
        if marker == 0x00 or marker in _JPEG_NO_LENGTH:  # 0xFF00 is a stuffed byte, not a marker
            continue
        if marker in _JPEG_SOF:  # length (2), precision (1), height (2), width (2)
            if i + 7 > len(data):
                return None
            return int.from_bytes(data[i + 5 : i + 7], "big"), int.from_bytes(data[i + 3 : i + 5], "big")
        if marker in (0xD9, 0xDA):  # end of image or scan data before any frame header
            return None
        length = int.from_bytes(data[i : i + 2], "big")
        if length < 2:
            return None
        i += length


def _png(data: bytes) -> tuple[int, int] | None:
    if data[12:16] != b"IHDR" or len(data) < 24:
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _bmp(data: bytes) -> tuple[int, int] | None:
    header = int.from_bytes(data[14:18], "little")
    if header == 12 and len(data) >= 22:  # OS/2 BITMAPCOREHEADER
        return int.from_bytes(data[18:20], "little"), int.from_bytes(data[20:22], "little")
    if header >= 40 and len(data) >= 26:  # a negative height means rows stored top-down
        width = int.from_bytes(data[18:22], "little", signed=True)
        height = int.from_bytes(data[22:26], "little", signed=True)
        return (width, abs(height)) if width > 0 else None
    return None


def _tiff(data: bytes) -> tuple[int, int] | None:
    # Classic TIFF only; the decoder reads the first directory (page). BigTIFF is refused.
    endian: Literal["little", "big"] = "little" if data[:2] == b"II" else "big"

    def order(field: bytes) -> int:
        return int.from_bytes(field, endian)

    start = order(data[4:8])
    if start < 8 or start + 2 > len(data):
        return None
    size: dict[int, int] = {}
    for entry in range(order(data[start : start + 2])):
        at = start + 2 + 12 * entry
        if at + 12 > len(data):
            return None
        tag, kind = order(data[at : at + 2]), order(data[at + 2 : at + 4])
        if tag in (256, 257) and kind in (3, 4):  # ImageWidth, ImageLength as SHORT or LONG
            size[tag] = order(data[at + 8 : at + 10] if kind == 3 else data[at + 8 : at + 12])
    return (size[256], size[257]) if len(size) == 2 else None


def _webp(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        return int.from_bytes(data[26:28], "little") & 0x3FFF, int.from_bytes(data[28:30], "little") & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


def peek_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG, PNG, BMP, TIFF or WebP header without decoding; None when it cannot be found.

    None covers every other format and every header this reader does not understand: callers must refuse it.
    """
    if data[:2] == b"\xff\xd8":
        return _jpeg(data)
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return _png(data)
    if data[:2] == b"BM":
        return _bmp(data)
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return _tiff(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp(data)
    return None
