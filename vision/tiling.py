"""Sliced inference for wide frames: overlapping tiles at the detector's input size plus the whole frame, merged.

A 1920 × 1080 roof-camera frame letterboxed to 640 px shrinks 3×, and a pile of litter becomes ~30 px: too small
for the detector. `TiledDetector` also runs the frame's tiles at full resolution (edge tiles shifted inwards, never
padded), all views of a frame in one `detect_batch` call, and merges their boxes back into one set.

The merge rule (`MergeRule.OVERLAP`), class-wise:

- A tile box that touches an inner edge of its tile (one that is not the frame's border) is *cut*: the object
  may go on beyond the tile. Whole-frame boxes are never cut.
- Boxes are taken greedily, uncut ones first, each by confidence. A box not yet taken starts a group. From every
  *other* view the group takes the boxes of its class that overlap the starting box by at least
  `merge_threshold`, measured as intersection over the smaller box's area (a half box inside the full box scores
  1, where IoU gives ~0.5): the one with the highest IoU, and every cut one (pieces of the same object). Two
  uncut boxes of one view are never joined: the detector's own NMS has already judged them two objects.
- A group started by an uncut box keeps that box: the view where the object is whole wins over views that cut
  it. A group of cut boxes only (an object cut in every view that found it) becomes the union of its boxes.
  The group's confidence is the highest of its boxes.

Groups compare with their starting box only: an object longer than a tile that every view cuts (the whole frame
turned off) can come out as more than one box. `MergeRule.IOU` is plain class-wise IoU-NMS over all views, kept
for comparison: it leaves a cut half next to the whole box.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from enum import StrEnum

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from vision.detections import Detections
from vision.detector import Detector
from vision.images import ImageArray, as_bgr
from vision.nms import batched_nms, box_iou, box_overlap_of_smaller

WindowArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class MergeRule(StrEnum):
    """How boxes from overlapping views become one set (see the module docstring)."""

    OVERLAP = "overlap"
    IOU = "iou"


class TilingConfig(BaseModel):
    """How a wide frame is cut into tiles and how their boxes are merged; validated, e.g. from a model card."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tile_size: tuple[PositiveInt, PositiveInt] | None = Field(
        default=None, title="Tile size", description="(height, width) in pixels; None = the detector's input size"
    )
    overlap: float = Field(
        default=0.2, ge=0.0, le=0.75, title="Overlap", description="least share of a tile's side its neighbour overlaps"
    )
    whole_frame: bool = Field(
        default=True, title="Whole frame", description="also detect on the whole frame: large objects stay whole"
    )
    merge: MergeRule = Field(default=MergeRule.OVERLAP, title="Merge rule", description="overlap (default) or iou")
    merge_threshold: float = Field(
        default=0.5,
        gt=0.0,
        le=1.0,
        title="Merge threshold",
        description="overlap of the smaller box (overlap rule) or IoU (iou rule) at which two boxes are one object",
    )
    min_downscale: float = Field(
        default=1.5,
        ge=1.0,
        title="Minimum downscale",
        description="tile only frames the whole-frame letterbox shrinks at least this much (1920 x 1080 into 640: 3)",
    )
    # Measured on wide frames made of the sample photos (both zoo models): the box of an object a tile edge cuts
    # ends within 1 px of that edge in most cases, within 3 px in all but one of 75, at most 6.7 px.
    edge_margin: float = Field(
        default=8.0, ge=0.0, title="Edge margin", description="pixels within which a box touches a tile's inner edge"
    )
    tiles_per_frame: PositiveInt | None = Field(
        default=None,
        title="Tiles per frame",
        description="video: at most this many tiles per frame, the next ones on the next frame, in rotation (the "
        "tracker carries an object between the frames its tile is run); None: every tile of every frame",
    )


def tile_grid(frame_shape: Sequence[int], tile_size: tuple[int, int], overlap: float) -> WindowArray:
    """Tile windows (N, 4) as (x0, y0, x1, y1) in frame pixels that cover a frame of `frame_shape` (H, W, ...).

    Tiles overlap their neighbours by at least `overlap` of the tile side; the last tile of each row and column is
    shifted inwards to end at the frame's border, so no window leaves the frame. A side shorter than the tile gets
    one window as long as the side. Rows first, left to right.
    """
    if len(frame_shape) < 2 or min(frame_shape[:2]) < 1:
        raise ValueError(f"frame shape must start with (height, width) >= 1, got {tuple(frame_shape)}")
    if len(tile_size) != 2 or min(tile_size) < 1:
        raise ValueError(f"tile size must be (height, width) >= 1, got {tile_size}")
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    ys = _axis_windows(int(frame_shape[0]), tile_size[0], overlap)
    xs = _axis_windows(int(frame_shape[1]), tile_size[1], overlap)
    return np.array([(x0, y0, x1, y1) for y0, y1 in ys for x0, x1 in xs], dtype=np.int64).reshape(-1, 4)


def _axis_windows(length: int, tile: int, overlap: float) -> list[tuple[int, int]]:
    """Evenly spaced (start, end) windows along one axis: the fewest whose steps keep the overlap."""
    if length <= tile:
        return [(0, length)]
    longest_step = tile * (1.0 - overlap)
    count = math.ceil((length - tile) / longest_step - 1e-9) + 1
    starts = np.round(np.linspace(0, length - tile, count)).astype(np.int64)
    return [(int(start), int(start) + tile) for start in starts]


def frame_views(frame_shape: Sequence[int], tile_size: tuple[int, int], config: TilingConfig) -> WindowArray:
    """The windows a frame is detected in: its tiles plus the whole frame (last), or the whole frame alone when
    the frame is too small to need tiles (see `TilingConfig.min_downscale`)."""
    height, width = int(frame_shape[0]), int(frame_shape[1])
    whole = np.array([[0, 0, width, height]], dtype=np.int64)
    if max(height / tile_size[0], width / tile_size[1]) < config.min_downscale:
        return whole
    tiles = tile_grid(frame_shape, tile_size, config.overlap)
    return np.concatenate([tiles, whole]) if config.whole_frame else tiles


def rotate_tiles(views: WindowArray, config: TilingConfig, turn: int) -> WindowArray:
    """The views of a frame's `turn`-th call when only `tiles_per_frame` tiles run per frame: a window of the tile
    list that moves on by that many each turn (wrapping), plus the whole frame when the config keeps it."""
    count = len(views) - 1 if config.whole_frame else len(views)
    per_frame = config.tiles_per_frame
    if per_frame is None or count <= per_frame:  # also a frame seen whole only: no tiles to rotate
        return views
    chosen = [(turn * per_frame + i) % count for i in range(per_frame)]
    return np.concatenate([views[sorted(chosen)], views[count:]])


def cut_boxes(
    xyxy: npt.NDArray[np.float32], window: npt.NDArray[np.int64], frame_hw: tuple[int, int], margin: float
) -> BoolArray:
    """Which boxes (N, 4), in frame pixels, touch an inner edge of `window` (an edge that is not the frame's)."""
    x0, y0, x1, y1 = (int(v) for v in window)
    height, width = frame_hw
    boxes = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4)
    cut = np.zeros(len(boxes), dtype=bool)
    for inner, touches in (
        (x0 > 0, boxes[:, 0] <= x0 + margin),
        (y0 > 0, boxes[:, 1] <= y0 + margin),
        (x1 < width, boxes[:, 2] >= x1 - margin),
        (y1 < height, boxes[:, 3] >= y1 - margin),
    ):
        if inner:
            cut |= touches
    return cut


def merge_views(
    per_view: Sequence[Detections], windows: WindowArray, frame_hw: tuple[int, int], config: TilingConfig
) -> Detections:
    """One set of boxes in frame pixels from the detections of each view (in that view's own pixels).

    `windows[i]` is view i's (x0, y0, x1, y1) in the frame; a window covering the whole frame is never cut.
    """
    windows = np.asarray(windows, dtype=np.int64).reshape(-1, 4)
    if len(per_view) != len(windows):
        raise ValueError(f"expected one Detections per window ({len(windows)}), got {len(per_view)}")
    shifted, views, cut = [], [], []
    for index, (detections, window) in enumerate(zip(per_view, windows, strict=True)):
        xyxy = detections.xyxy + np.tile(window[:2], 2).astype(np.float32)
        shifted.append(Detections(xyxy, detections.confidence, detections.class_id))
        views.append(np.full(len(detections), index, dtype=np.int64))
        cut.append(cut_boxes(xyxy, window, frame_hw, config.edge_margin))
    boxes = _concatenate(shifted)
    if config.merge is MergeRule.IOU:
        return boxes[batched_nms(boxes.xyxy, boxes.confidence, boxes.class_id, config.merge_threshold)]
    return merge_overlapping(boxes, np.concatenate(views), np.concatenate(cut), config.merge_threshold)


def merge_overlapping(boxes: Detections, views: npt.NDArray[np.int64], cut: BoolArray, threshold: float) -> Detections:
    """The overlap merge of the module docstring: `views[i]` says which view box i came from, `cut[i]` whether
    it touches an inner edge of that view."""
    n = len(boxes)
    if views.shape != (n,) or cut.shape != (n,):
        raise ValueError(f"expected views and cut of shape ({n},), got {views.shape} and {cut.shape}")
    same_class = boxes.class_id[:, None] == boxes.class_id[None, :]
    joinable = same_class & (views[:, None] != views[None, :])
    joinable &= box_overlap_of_smaller(boxes.xyxy, boxes.xyxy) >= threshold
    iou = box_iou(boxes.xyxy, boxes.xyxy, np.float64)
    order = np.lexsort((-boxes.confidence, cut))  # uncut first, each by confidence
    taken = np.zeros(n, dtype=bool)
    xyxy, confidence, class_id = [], [], []
    for seed in order:
        if taken[seed]:
            continue
        group = _group(seed, joinable[seed] & ~taken, views, cut, iou[seed])
        taken[group] = True
        members = boxes.xyxy[group]
        union = np.concatenate([members[:, :2].min(axis=0), members[:, 2:].max(axis=0)])
        xyxy.append(union if cut[seed] else boxes.xyxy[seed])
        confidence.append(boxes.confidence[group].max())
        class_id.append(boxes.class_id[seed])
    if not xyxy:
        return Detections.empty()
    return Detections(np.stack(xyxy), np.asarray(confidence), np.asarray(class_id))


def _group(
    seed: int, candidates: BoolArray, views: npt.NDArray[np.int64], cut: BoolArray, iou: npt.NDArray[np.float64]
) -> list[int]:
    """`seed`, each other view's candidate with the highest IoU with it, and every cut candidate."""
    best: dict[int, int] = {}
    for index in np.nonzero(candidates)[0]:
        view = int(views[index])
        if view not in best or iou[index] > iou[best[view]]:
            best[view] = int(index)
    pieces = {int(index) for index in np.nonzero(candidates & cut)[0]}
    return [seed, *sorted(pieces | set(best.values()))]


def _concatenate(parts: Sequence[Detections]) -> Detections:
    if not parts:
        return Detections.empty()
    return Detections(
        np.concatenate([p.xyxy for p in parts]),
        np.concatenate([p.confidence for p in parts]),
        np.concatenate([p.class_id for p in parts]),
    )


class TiledDetector:
    """A `Detector` that runs another one on overlapping tiles of each frame plus the whole frame, and merges.

    All views of all images of a call go through the wrapped detector's `detect_batch` as one batch. Views of
    different shapes are letterboxed to the full square input, so the whole frame's own boxes can differ slightly
    from `detector.detect(frame)` (minimal rectangle). Frames too small for tiles are passed through unchanged.
    With `tiles_per_frame` each frame runs the next tiles of a rotation (`rotate_tiles`): the only state kept, and
    harmless when streams share the detector (they interleave turns: each frame still gets its share of tiles).
    """

    def __init__(self, detector: Detector, config: TilingConfig | None = None) -> None:
        self.detector = detector
        self.config = config or TilingConfig()
        self.tile_size = self.config.tile_size or detector.input_size
        self._turns = itertools.count()  # the rotation of `tiles_per_frame`; next() is atomic under the GIL

    @property
    def class_names(self) -> tuple[str, ...]:
        """Class names of the wrapped detector."""
        return self.detector.class_names

    @property
    def input_size(self) -> tuple[int, int]:
        """Network input (height, width) of the wrapped detector."""
        return self.detector.input_size

    def detect(self, image: ImageArray) -> Detections:
        """Merged detections of one image's views, in its pixels."""
        return self.detect_batch([image])[0]

    def detect_batch(self, images: Sequence[ImageArray]) -> list[Detections]:
        """Merged detections for each image, in order; one `detect_batch` call on the wrapped detector."""
        frames = [as_bgr(image, name=f"image #{index}") for index, image in enumerate(images)]
        windows = [
            rotate_tiles(frame_views(frame.shape, self.tile_size, self.config), self.config, next(self._turns))
            for frame in frames
        ]
        crops = [
            np.ascontiguousarray(frame[y0:y1, x0:x1])
            for frame, frame_windows in zip(frames, windows, strict=True)
            for x0, y0, x1, y1 in frame_windows
        ]
        found = self.detector.detect_batch(crops) if crops else []
        results, start = [], 0
        for frame, frame_windows in zip(frames, windows, strict=True):
            per_view = found[start : start + len(frame_windows)]
            start += len(frame_windows)
            if len(frame_windows) == 1:  # the whole frame alone: the detector's answer as it is
                results.append(per_view[0])
            else:
                results.append(merge_views(per_view, frame_windows, frame.shape[:2], self.config))
        return results


def with_tiling(detector: Detector, config: TilingConfig | None) -> Detector:
    """`detector` wrapped in a `TiledDetector` when `config` is given, else `detector` itself."""
    return detector if config is None else TiledDetector(detector, config)
