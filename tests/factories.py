"""Builders of test data."""

from __future__ import annotations

import numpy as np

from vision.detections import Detections


def make_detections(rows: list[tuple[float, float, float, float, float, int]]) -> Detections:
    """Detections from (x1, y1, x2, y2, confidence, class_id) rows."""
    if not rows:
        return Detections.empty()
    array = np.array(rows, dtype=np.float64)
    return Detections(array[:, :4], array[:, 4], array[:, 5].astype(np.int64))


def make_wide_frame(
    photo: np.ndarray, scale: float, top_left: tuple[int, int], size: tuple[int, int] = (1920, 1080)
) -> np.ndarray:
    """A wide patrol-car frame (`size` = width, height): `photo` shrunk by `scale` with its top-left corner at
    `top_left`, on a blurred, darkened, stretched copy of itself (the surround `datasets.drive` uses)."""
    import cv2

    width, height = size
    frame = (cv2.GaussianBlur(cv2.resize(photo, size), (0, 0), 12) * 0.8).astype(np.uint8)
    small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    x, y = top_left
    if x < 0 or y < 0 or x + small.shape[1] > width or y + small.shape[0] > height:
        raise ValueError(f"a {small.shape[1]}x{small.shape[0]} photo at {top_left} does not fit in {width}x{height}")
    frame[y : y + small.shape[0], x : x + small.shape[1]] = small
    return frame


def make_head_output(boxes: list[tuple[float, float, float, float, int, float]], nc: int, n: int = 50) -> np.ndarray:
    """A fake YOLOv8 head output (1, 4 + nc, n): given (cx, cy, w, h, class, score) rows, the rest near zero."""
    output = np.zeros((1, 4 + nc, n), dtype=np.float32)
    output[0, :4, :] = [[320.0], [320.0], [10.0], [10.0]]
    output[0, 4:, :] = 0.01
    for i, (cx, cy, w, h, cls, score) in enumerate(boxes):
        output[0, :4, i] = (cx, cy, w, h)
        output[0, 4 + cls, i] = score
    return output


def make_source_tree(root, samples_dir, prefix: str, folder: str, val: int = 2):  # type: ignore[no-untyped-def]
    """Copy the bundled samples whose name starts with `prefix` into a source folder (images/labels × train/val)."""
    import shutil

    images = sorted((samples_dir / "images").glob(f"{prefix}__*.jpg"))
    for index, image in enumerate(images):
        split = "val" if index < val else "train"
        for kind in ("images", "labels"):
            (root / folder / kind / split).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(image, root / folder / "images" / split / image.name)
        shutil.copyfile(
            samples_dir / "labels" / f"{image.stem}.txt", root / folder / "labels" / split / f"{image.stem}.txt"
        )
    return root / folder


def source_config_yaml(name: str, classes: list[str], mapping: dict[str, str | None], role: str = "events", **extra):  # type: ignore[no-untyped-def]
    """The text of a source config for tests."""
    import yaml

    body = {
        "name": name,
        "folder": name,
        "origin": "https://example.invalid/" + name,
        "commit": "0" * 40,
        "license": "CC0 1.0",
        "attribution": f"test source {name}",
        "classes": classes,
        "map": mapping,
        "role": role,
        **extra,
    }
    return yaml.safe_dump(body, allow_unicode=True)
