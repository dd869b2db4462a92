"""Contact sheets: a grid of dataset images with their boxes and class names drawn, for a person to look at."""

from __future__ import annotations

import random
from pathlib import Path

import cv2
import numpy as np

from datasets.manifest import read_manifest
from datasets.yolo import read_labels
from vision.annotate import draw_detections
from vision.detections import Detections
from vision.images import load_image
from vision.taxonomy import load_taxonomy

TILE = (320, 240)  # width, height of one cell


def contact_sheet(
    dataset: Path, count: int = 16, seed: int = 0, class_name: str | None = None, zoom: bool = False
) -> np.ndarray:
    """A BGR grid of `count` random examples (optionally only those holding `class_name`), boxes drawn.

    `zoom` crops each tile to the boxes of `class_name` (with context around them), for small objects.
    """
    manifest = read_manifest(dataset)
    entries = [e for e in manifest.entries if class_name is None or class_name in e.boxes]
    if not entries:
        raise ValueError(f"no image in {dataset} holds class {class_name!r}; classes: {', '.join(manifest.classes)}")
    if zoom and class_name is None:
        raise ValueError("zoom needs a class to zoom on")
    picked = random.Random(seed).sample(entries, min(count, len(entries)))
    taxonomy = load_taxonomy()
    tiles = []
    for entry in picked:
        image = load_image(dataset / entry.image)
        labels, _ = read_labels(dataset / entry.label, len(manifest.classes))
        xyxy = labels.xyxy(image.shape[1], image.shape[0])
        truth = Detections(xyxy.astype(np.float32), np.ones(len(xyxy), np.float32), labels.class_ids)
        drawn = draw_detections(image, truth, manifest.classes, taxonomy, show_confidence=False)
        if zoom:
            drawn = _crop_around(drawn, xyxy[labels.class_ids == manifest.classes.index(str(class_name))])
        tiles.append(_fit(drawn))
    columns = 4
    rows = [
        np.hstack(tiles[i : i + columns] + [_blank()] * (columns - len(tiles[i : i + columns])))
        for i in range(0, len(tiles), columns)
    ]
    return np.vstack(rows)


def _crop_around(image: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    x0, y0 = xyxy[:, :2].min(axis=0)
    x1, y1 = xyxy[:, 2:].max(axis=0)
    margin = max(x1 - x0, y1 - y0) * 0.6 + 20
    left, top = int(max(0, x0 - margin)), int(max(0, y0 - margin))
    return image[top : int(min(h, y1 + margin)), left : int(min(w, x1 + margin))]


def write_contact_sheet(sheet: np.ndarray, path: Path) -> Path:
    """Write the sheet as PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), sheet):
        raise OSError(f"could not write {path}")
    return path


def _fit(image: np.ndarray) -> np.ndarray:
    w, h = TILE
    scale = min(w / image.shape[1], h / image.shape[0])
    resized = cv2.resize(image, (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))))
    tile = _blank()
    top, left = (h - resized.shape[0]) // 2, (w - resized.shape[1]) // 2
    tile[top : top + resized.shape[0], left : left + resized.shape[1]] = resized
    return tile


def _blank() -> np.ndarray:
    return np.full((TILE[1], TILE[0], 3), 32, np.uint8)
