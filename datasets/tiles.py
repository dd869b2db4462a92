"""Training tiles cut from wide frames, so objects have the pixel size they will have at inference.

At inference (`vision/tiling.py`) a 1920 × 1080 patrol frame is cut into tiles at the model's input size, where a
pile of litter is ~100 px wide; the whole frame letterboxed to 640 px shows it at ~34 px. A model trained only on
whole 1024 × 576 frames (letterboxed: ~0.6×) never sees objects at the tiles' size. A `TileSpec` brings the
frames of a source to the camera's size first (`frame_size`, e.g. 1080 × 1920 for the patrol car's camera), cuts
them with the same `tile_grid` as inference, and keeps each box by the share of it a tile shows.

Which tiles are kept: every tile with a box of ours; every tile with a box of a source class the config names as
a hard negative (a shop sign, debris on a median: things the model must learn to leave alone); of the rest, a
seeded `empty_share`.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from datasets.importers import Example, SourceConfig, source_labels
from datasets.yolo import Labels
from vision.tiling import tile_grid

JPEG_QUALITY = 92
SMALLEST_SIDE_PX = 2.0  # a sliver of a box narrower than this is no object


class TileSpec(BaseModel):
    """Tiles of one source's frames in a build."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(description="name of the source whose frames are cut")
    splits: tuple[Literal["train", "val"], ...] = Field(
        default=("train",), min_length=1, description="splits whose frames are cut (a tile keeps its frame's split)"
    )
    frame_size: tuple[PositiveInt, PositiveInt] | None = Field(
        default=None, description="(height, width) the frame is resized to before cutting: the camera's size"
    )
    tile_size: PositiveInt = Field(default=640, description="square tile side in pixels: the model's input size")
    overlap: float = Field(default=0.2, ge=0.0, lt=1.0, description="least share of a tile's side shared")
    min_visible: float = Field(
        default=0.3, gt=0.0, le=1.0, description="share of a box's area a tile must show for the box to be kept"
    )
    hard_negatives: tuple[str, ...] = Field(
        default=(), description="source classes (mapped to nothing) whose tiles are always kept, as negatives"
    )
    empty_share: float = Field(default=0.25, ge=0.0, le=1.0, description="share of the other tiles kept")


@dataclass(frozen=True)
class Tile:
    """A tile as it goes into the dataset: JPEG bytes, labels in taxonomy ids, and where it was cut."""

    name: str
    frame: Example
    jpeg: bytes
    labels: Labels
    record: dict[str, Any]


def cut_tiles(spec: TileSpec, frames: list[Example], source: SourceConfig, seed: int) -> Iterator[Tile]:
    """Yield the kept tiles of every frame of `spec.splits`, in frame order; seeded."""
    if spec.source != source.name:
        raise ValueError(f"tile spec is for {spec.source!r}, source config is {source.name!r}")
    unknown = [name for name in spec.hard_negatives if name not in source.classes]
    if unknown:
        raise ValueError(f"hard negatives {unknown} are not classes of {source.name}: {list(source.classes)}")
    negative_ids = {source.classes.index(name) for name in spec.hard_negatives}
    rng = random.Random(seed)
    for frame in frames:
        if frame.split not in spec.splits:
            continue
        image = cv2.imread(str(frame.image), cv2.IMREAD_COLOR)
        if image is None:  # the importer decoded it; a file changed since is a broken build
            raise ValueError(f"{frame.image} can no longer be decoded")
        if spec.frame_size is not None:
            height, width = spec.frame_size
            image = cv2.resize(image, (width, height), interpolation=cv2.INTER_CUBIC)
        height, width = image.shape[:2]
        boxes = frame.labels.xyxy(width, height)
        source_boxes = source_labels(frame, source)
        negatives = source_boxes.xyxy(width, height)[np.isin(source_boxes.class_ids, list(negative_ids))]
        for index, window in enumerate(tile_grid(image.shape, (spec.tile_size, spec.tile_size), spec.overlap)):
            labels, visible = tile_labels(boxes, frame.labels.class_ids, window, spec.min_visible)
            has_negative = bool((_clip(negatives, window)[1] >= spec.min_visible).any())
            keep = len(labels.class_ids) > 0 or has_negative or rng.random() < spec.empty_share
            if not keep:
                continue
            x0, y0, x1, y1 = (int(v) for v in window)
            ok, encoded = cv2.imencode(".jpg", image[y0:y1, x0:x1], [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            if not ok:
                raise ValueError(f"could not encode a tile of {frame.image}")
            scale = "native" if spec.frame_size is None else f"{spec.frame_size[1]}x{spec.frame_size[0]}"
            yield Tile(
                name=f"{frame.source}__{frame.image.stem}__t{scale}_{index}",
                frame=frame,
                jpeg=encoded.tobytes(),
                labels=labels,
                record={
                    "frame_size": [height, width],
                    "window": [x0, y0, x1, y1],
                    "boxes_visible": [round(v, 3) for v in visible],
                    "hard_negative": has_negative,
                },
            )


def _clip(
    boxes: npt.NDArray[np.float64], window: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The boxes clipped to the window (window coordinates) and the share of each box's area inside it."""
    x0, y0, x1, y1 = (float(v) for v in window)
    clipped = np.stack(
        [
            np.clip(boxes[:, 0], x0, x1),
            np.clip(boxes[:, 1], y0, y1),
            np.clip(boxes[:, 2], x0, x1),
            np.clip(boxes[:, 3], y0, y1),
        ],
        axis=1,
    ).reshape(-1, 4)
    area = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    inside = np.prod(np.maximum(clipped[:, 2:] - clipped[:, :2], 0.0), axis=1)
    share = np.divide(inside, area, out=np.zeros_like(inside), where=area > 0)
    return clipped - [x0, y0, x0, y0], share


def tile_labels(
    boxes: npt.NDArray[np.float64], class_ids: npt.NDArray[np.int64], window: npt.NDArray[np.int64], min_visible: float
) -> tuple[Labels, list[float]]:
    """The boxes (frame pixels) a window shows, as its labels, and the share of each kept box it shows.

    A box is kept when the window shows at least `min_visible` of its area and the shown part is no sliver.
    """
    clipped, share = _clip(boxes, window)
    sides = clipped[:, 2:] - clipped[:, :2]
    keep = (share >= min_visible) & (sides.min(axis=1) >= SMALLEST_SIDE_PX)
    if not keep.any():
        return Labels.empty(), []
    width, height = int(window[2] - window[0]), int(window[3] - window[1])
    return Labels.from_xyxy(clipped[keep], class_ids[keep], width, height), [float(v) for v in share[keep]]
