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
