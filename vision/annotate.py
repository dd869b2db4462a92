"""Drawing detections onto images for evidence and demos."""

from __future__ import annotations

import cv2
import numpy as np

from vision.detections import Detections
from vision.images import ImageArray
from vision.taxonomy import Taxonomy, color_for


def draw_detections(
    image: ImageArray,
    detections: Detections,
    class_names: tuple[str, ...],
    taxonomy: Taxonomy | None = None,
    show_confidence: bool = True,
) -> ImageArray:
    """A copy of `image` with each box and its 'class confidence' label drawn (ground truth: no confidence)."""
    canvas = image.copy()
    thickness = max(1, round(max(image.shape[:2]) / 400))
    scale = max(0.4, max(image.shape[:2]) / 1600)
    for box, confidence, class_id in zip(detections.xyxy, detections.confidence, detections.class_id, strict=True):
        name = class_names[class_id] if 0 <= class_id < len(class_names) else str(class_id)
        color = color_for(name, taxonomy)
        x1, y1, x2, y2 = (round(float(v)) for v in box)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), color, thickness, cv2.LINE_AA)
        label = f"{name} {confidence:.2f}" if show_confidence else name
        (text_w, text_h), baseline = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        top = max(y1 - text_h - baseline - 2, 0)
        cv2.rectangle(canvas, (x1, top), (x1 + text_w + 2, top + text_h + baseline + 2), color, -1)
        cv2.putText(
            canvas,
            label,
            (x1 + 1, top + text_h + 1),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (255, 255, 255),
            thickness,
            cv2.LINE_AA,
        )
    return np.asarray(canvas, dtype=np.uint8)
