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
