"""Box IoU and class-wise non-maximum suppression in numpy."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

# Offset that separates classes so one NMS pass never suppresses across classes (ultralytics uses the same).
_CLASS_OFFSET = 7680.0


def _intersections(
    a: npt.ArrayLike, b: npt.ArrayLike, dtype: npt.DTypeLike
) -> tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]]:
    """Pairwise intersection areas (N, M) of boxes `a` (N, 4) and `b` (M, 4) in xyxy, and each set's areas."""
    a = np.asarray(a, dtype=dtype).reshape(-1, 4)
    b = np.asarray(b, dtype=dtype).reshape(-1, 4)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    return inter, area_a, area_b


def box_iou(a: npt.ArrayLike, b: npt.ArrayLike, dtype: npt.DTypeLike = np.float32) -> npt.NDArray[Any]:
    """Pairwise IoU of boxes `a` (N, 4) and `b` (M, 4) in xyxy: an (N, M) matrix, computed in `dtype`
    (float32 for NMS, as ultralytics; float64 where scores are compared with pycocotools or tracks matched)."""
    inter, area_a, area_b = _intersections(a, b, dtype)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0).astype(dtype)


def box_overlap_of_smaller(a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Pairwise intersection over the smaller box's area (N, M), in float64: 1 where one box lies inside the other."""
    inter, area_a, area_b = _intersections(a, b, np.float64)
    smaller = np.minimum(area_a[:, None], area_b[None, :])
    return np.asarray(inter / np.maximum(smaller, np.finfo(np.float64).eps), np.float64)


def nms(boxes: npt.NDArray[np.float32], scores: npt.NDArray[np.float32], iou_threshold: float) -> npt.NDArray[np.int64]:
    """Greedy NMS: indices of kept boxes, highest score first; a box is dropped when IoU > `iou_threshold`."""
    order = np.argsort(-scores, kind="stable")
    boxes = boxes[order]
    keep: list[int] = []
    alive = np.ones(len(order), dtype=bool)
    for i in range(len(order)):
        if not alive[i]:
            continue
        keep.append(i)
        rest = np.nonzero(alive[i + 1 :])[0] + i + 1
        if rest.size:
            ious = box_iou(boxes[i : i + 1], boxes[rest])[0]
            alive[rest[ious > iou_threshold]] = False
    return order[np.asarray(keep, dtype=np.int64)]


def batched_nms(
    boxes: npt.NDArray[np.float32],
    scores: npt.NDArray[np.float32],
    class_ids: npt.NDArray[np.int64],
    iou_threshold: float,
) -> npt.NDArray[np.int64]:
    """Class-wise NMS: boxes of different classes never suppress each other."""
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    shifted = boxes + (class_ids.astype(np.float32) * _CLASS_OFFSET)[:, None]
    return nms(shifted, scores, iou_threshold)
