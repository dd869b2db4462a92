"""Train/validation splits for a source that ships one folder of frames: whole groups of near-identical frames.

A drive's camera sees the same scene in frames seconds apart. If one of them is in training and its twin in
validation, validation measures memory, not detection. So frames are grouped first, and each group goes to one
split. Two frames are near-identical when their small grey thumbnails (64 × 36, mean and contrast removed)
correlate at least `similarity` at the best horizontal shift of up to `max_shift` thumbnail pixels (the car moved a
few metres). The 16 × 16 average hash the build uses against cross-source copies is too coarse here: on
patrol-riyadh, different streets with the same sky/road layout are within 22 bits of each other.

Measured on patrol-riyadh (512 frames): the nearest other frame correlates 0.68 in the median and 0.94 at the
99th percentile; pairs at 0.94 and above are the same scene, pairs at 0.82–0.87 different streets with the same
layout. The source config's default 0.85 therefore also joins some different scenes, which costs nothing but a
slightly less even split.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from vision.images import ImageArray

THUMBNAIL_SIZE = (64, 36)  # (width, height): the 16:9 frame's shape

Thumbnail = npt.NDArray[np.float32]


class GroupedSplit(BaseModel):
    """How a source without split folders is divided: a share of its groups of near-identical frames to val."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    val_fraction: float = Field(gt=0.0, lt=1.0, description="share of the frames that go to validation")
    similarity: float = Field(
        default=0.85, gt=0.0, le=1.0, description="thumbnail correlation at which two frames are one scene"
    )
    max_shift: int = Field(default=8, ge=0, le=16, description="horizontal shift tried, in thumbnail pixels")
    seed: int = Field(default=0, description="which groups go to validation")


def thumbnail(image: ImageArray) -> Thumbnail:
    """The frame as a small grey image, as float32."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    return cv2.resize(grey, THUMBNAIL_SIZE, interpolation=cv2.INTER_AREA).astype(np.float32)


def similarity_matrix(thumbnails: Sequence[Thumbnail], max_shift: int) -> npt.NDArray[np.float64]:
    """(N, N) best normalised correlation of every pair of thumbnails over horizontal shifts; -1 on the diagonal."""
    stack = np.asarray(thumbnails, dtype=np.float64)
    count, width = len(stack), THUMBNAIL_SIZE[0]
    best: npt.NDArray[np.float64] = np.full((count, count), -1.0)
    for shift in range(-max_shift, max_shift + 1):
        left = _normalised(stack[:, :, max(shift, 0) : width + min(shift, 0)].reshape(count, -1))
        right = _normalised(stack[:, :, max(-shift, 0) : width + min(-shift, 0)].reshape(count, -1))
        best = np.maximum(best, left @ right.T)
    best = np.maximum(best, best.T)  # symmetric already ((a, b) at s is (b, a) at -s), but for rounding
    np.fill_diagonal(best, -1.0)
    return best


def _normalised(rows: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    centred: npt.NDArray[np.float64] = rows - rows.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(centred, axis=1, keepdims=True)
    out: npt.NDArray[np.float64] = np.zeros_like(centred)
    np.divide(centred, norms, out=out, where=norms > 0)  # a flat frame matches nothing
    return out


def near_identical_groups(thumbnails: Sequence[Thumbnail], similarity: float, max_shift: int) -> list[int]:
    """A group id per frame: frames joined, directly or through others, by a correlation >= `similarity`."""
    parent = list(range(len(thumbnails)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if len(thumbnails) > 1:
        for i, j in zip(*np.nonzero(similarity_matrix(thumbnails, max_shift) >= similarity), strict=True):
            parent[root(int(i))] = root(int(j))
    return [root(i) for i in range(len(thumbnails))]


def assign_splits(keys: Sequence[str], groups: Sequence[int], val_fraction: float, seed: int) -> list[str]:
    """'train' or 'val' per frame, whole groups at a time, until val holds `val_fraction` of the frames.

    Groups are taken in the order of a hash of the seed and their first key (sorted), so the split depends only
    on the frames' names and the seed, not on the order they were listed in.
    """
    if len(keys) != len(groups):
        raise ValueError(f"{len(keys)} keys but {len(groups)} group ids")
    members: dict[int, list[int]] = {}
    for index, group in enumerate(groups):
        members.setdefault(group, []).append(index)

    def order(group: list[int]) -> str:
        first = min(keys[i] for i in group)
        return hashlib.sha256(f"{seed}:{first}".encode()).hexdigest()

    splits = ["train"] * len(keys)
    wanted, taken = round(val_fraction * len(keys)), 0
    for chosen in sorted(members.values(), key=order):
        if taken >= wanted:
            break
        for index in chosen:
            splits[index] = "val"
        taken += len(chosen)
    return splits
