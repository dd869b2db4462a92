"""Patrol-view frames with objects composed onto them, cut into tiles at the model's size: seeded runs in a build.

Each frame is composed at its own resolution (the cut-outs, flyers and stains then have the frame's own
softness), brought to the camera's size (`frame_size`, as tiles.py does), and cut by `vision.tiling.tile_grid`;
a tile is kept when it shows a placed object (by tiles.py's `tile_labels` rule), with the frame's own labels too.
Tiles without a placed object add nothing to the frame's tiles that tiles.py already cuts.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from datasets.compose.cutouts import Donor, find_donors, frame_sharpness
from datasets.compose.geometry import Box, GroundCamera
from datasets.compose.placing import Canvas, Placed, place_ad, place_cutout, place_grime, place_stall
from datasets.compose.spec import ComposeSpec, CutoutSpec, check_sources
from datasets.importers import Example, SourceConfig, source_labels
from datasets.synthetic.ads import AdTexts, cjk_font
from datasets.synthetic.generate import OCCLUDER_CONFIDENCE
from datasets.synthetic.stalls import LibrarySpec, Sprite, load_library, render_cache, render_library
from datasets.tiles import JPEG_QUALITY, Tile, tile_labels
from vision.detector import Detector
from vision.taxonomy import Taxonomy
from vision.tiling import tile_grid


@dataclass(frozen=True)
class ComposeInputs:
    """What a compose entry takes from its build.

    `examples`: the photos the build kept (frames and donors are taken from them, a donor only for frames of its
    split); `occluders`: the COCO model, whose finds (parked cars, people, bikes) nothing is pasted over — without it
    only the frames' own labels are kept clear; `cache`: the stall renders, default `stalls.render_cache()`.
    """

    examples: list[Example]
    sources: dict[str, SourceConfig]
    taxonomy: Taxonomy
    occluders: Detector | None = None
    cache: Path | None = None


def compose_tiles(spec: ComposeSpec, inputs: ComposeInputs, seed: int) -> Iterator[Tile]:
    """Yield the tiles showing composed objects of every frame of `spec.backgrounds` in `spec.splits`; seeded."""
    check_sources(spec, inputs.sources, inputs.taxonomy.names)
    frames = [e for e in inputs.examples if e.source == spec.backgrounds and e.split in spec.splits]
    if spec.max_backgrounds is not None and len(frames) > spec.max_backgrounds:
        frames = sorted(random.Random(seed).sample(frames, spec.max_backgrounds), key=lambda e: str(e.image))
    composer = _Composer(spec, inputs)
    for index, frame in enumerate(frames):
        background = composer.background(frame)
        for copy in range(spec.per_background):
            rng = np.random.default_rng([seed, index, copy])
            yield from composer.tiles(rng, background, (seed, index, copy))


@dataclass(frozen=True)
class _Background:
    """A frame as read once for all its copies: the example, its pixels, and the boxes nothing may cover."""

    frame: Example
    image: np.ndarray
    labelled: list[tuple[Box, str]]  # every box the source labels, with its source class
    in_front: list[Box]  # what the COCO model finds: parked cars, people, bikes
    sharpness: float


@dataclass(frozen=True)
class _Kind:
    """One kind of object a frame may get: how it is placed, and whether it needs a wall."""

    name: str
    on_wall: bool
    cutout: CutoutSpec | None = None


class _Composer:
    """What every frame of one compose entry shares: the spec, the class ids, donors by split, renders, texts."""

    def __init__(self, spec: ComposeSpec, inputs: ComposeInputs) -> None:
        self.spec, self.inputs = spec, inputs
        self.source, self.taxonomy = inputs.sources[spec.backgrounds], inputs.taxonomy
        self.kinds = [_Kind(c.label, False, c) for c in spec.cutouts] + [
            _Kind(name, name != "street_stall") for name in spec.synthetic
        ]
        self._donors: dict[tuple[str, int], list[Donor]] = {}

    def donors(self, cutout: CutoutSpec, split: str) -> list[Donor]:
        """The boxes `cutout` may cut, from photos of `split` only (no object crosses from val into train)."""
        key = (split, self.spec.cutouts.index(cutout))
        if key not in self._donors:
            photos = [e for e in self.inputs.examples if e.source in cutout.sources and e.split == split]
            class_id = self.taxonomy.names.index(cutout.label)
            self._donors[key] = find_donors(photos, class_id, cutout.min_side_px, cutout.max_image_share)
        return self._donors[key]

    @cached_property
    def sprites(self) -> list[Sprite]:
        return load_library(render_library(LibrarySpec(count=self.spec.renders), self.inputs.cache or render_cache()))

    @cached_property
    def ad_texts(self) -> tuple[AdTexts, Path]:
        return AdTexts.load(), cjk_font()

    def background(self, frame: Example) -> _Background:
        """Read a frame, its labelled boxes and, with the COCO model, the cars and people in it."""
        raw = cv2.imread(str(frame.image), cv2.IMREAD_COLOR)
        if raw is None:  # the importer decoded it; a file changed since is a broken build
            raise ValueError(f"{frame.image} can no longer be decoded")
        image = np.asarray(raw, np.uint8)
        h, w = image.shape[:2]
        labels = source_labels(frame, self.source)
        names = [self.source.classes[i] for i in labels.class_ids]
        labelled = [(_box(b), n) for b, n in zip(labels.xyxy(w, h), names, strict=True)]
        in_front: list[Box] = []
        if self.inputs.occluders is not None:
            found = self.inputs.occluders.detect(image)
            in_front = [_box(b) for b in found.xyxy[found.confidence >= OCCLUDER_CONFIDENCE]]
        return _Background(frame, image, labelled, in_front, frame_sharpness(image))

    def tiles(self, rng: np.random.Generator, background: _Background, seed: tuple[int, int, int]) -> Iterator[Tile]:
        """The tiles of one composed copy of `background` that show a placed object (none if nothing fitted)."""
        canvas = self._canvas(rng, background)
        self._place(rng, canvas, background.frame.split)
        if not canvas.placed:
            return
        height, width = self.spec.frame_size or background.image.shape[:2]
        k = height / background.image.shape[0]  # camera pixels per frame pixel
        composed: np.ndarray = np.clip(canvas.image, 0, 255).astype(np.uint8)
        if self.spec.frame_size is not None:
            composed = cv2.resize(composed, (width, height), interpolation=cv2.INTER_CUBIC)
        record: dict[str, Any] = {
            "compose": self.spec.backgrounds,
            "seed": list(seed),
            "frame_size": [height, width],
            "horizon_y": round(canvas.camera.horizon_y * k, 1),
            "camera_height_m": round(canvas.camera.camera_height_m, 2),
            "placed": [_record(p, k) for p in canvas.placed],
        }
        yield from self._cut(composed, background.frame, canvas.placed, k, record)

    def _cut(
        self, composed: np.ndarray, frame: Example, placed: list[Placed], k: float, record: dict[str, Any]
    ) -> Iterator[Tile]:
        """The tiles of the composed frame (at the camera's size) that show a placed object, with every label."""
        spec = self.spec
        height, width = composed.shape[:2]
        placed_xyxy = np.array([p.xyxy for p in placed], np.float64).reshape(-1, 4) * k
        placed_ids = np.array([p.class_id for p in placed], np.int64)
        boxes = np.vstack([frame.labels.xyxy(width, height), placed_xyxy])
        class_ids = np.concatenate([frame.labels.class_ids, placed_ids])
        scale = "native" if spec.frame_size is None else f"{width}x{height}"
        for index, window in enumerate(tile_grid(composed.shape, (spec.tile_size, spec.tile_size), spec.overlap)):
            shows, _ = tile_labels(placed_xyxy, placed_ids, window, spec.min_visible)
            if not len(shows.class_ids):
                continue
            labels, visible = tile_labels(boxes, class_ids, window, spec.min_visible)
            x0, y0, x1, y1 = (int(v) for v in window)
            ok, encoded = cv2.imencode(".jpg", composed[y0:y1, x0:x1], [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            if not ok:
                raise ValueError(f"could not encode a composed tile of {frame.image}")
            yield Tile(
                name=f"compose-{frame.source}__{frame.image.stem}__{record['seed'][2]}_t{scale}_{index}",
                frame=frame,
                jpeg=encoded.tobytes(),
                labels=labels,
                record={**record, "window": [x0, y0, x1, y1], "boxes_visible": [round(v, 3) for v in visible]},
            )

    def _canvas(self, rng: np.random.Generator, background: _Background) -> Canvas:
        """The frame with a drawn horizon and camera height, the boxes nothing may cover, and its walls."""
        spec, image = self.spec, background.image
        h, w = image.shape[:2]
        labelled = background.labelled
        horizon = float(rng.uniform(*spec.horizon)) * h
        ground = [b[3] for b, n in labelled if n in spec.ground_classes]
        if ground:  # what lies on the ground lies below the horizon
            horizon = min(horizon, max(1.0, float(min(ground)) - 0.02 * h))
        camera = GroundCamera(h, w, horizon, float(rng.uniform(*spec.camera_height_m)))
        walls = [(b, spec.walls_m[n]) for b, n in labelled if n in spec.walls_m]
        camera_px = (spec.frame_size[0] if spec.frame_size else h) / h
        return Canvas(
            image=image.astype(np.float32),
            camera=camera,
            blockers=[b for b, _ in labelled] + background.in_front,
            walls=walls,
            sharpness=background.sharpness,
            min_height_px=spec.min_height_px / camera_px,
            sides_m=(spec.right_m, spec.left_m),
        )

    def _place(self, rng: np.random.Generator, canvas: Canvas, split: str) -> None:
        kinds = [
            k
            for k in self.kinds
            if (not k.on_wall or canvas.walls) and (k.cutout is None or self.donors(k.cutout, split))
        ]
        if not kinds:
            return
        for _ in range(int(rng.integers(1, self.spec.max_objects + 1))):
            kind = kinds[int(rng.integers(len(kinds)))]
            class_id = self.taxonomy.names.index(kind.name)
            if kind.cutout is not None:
                place_cutout(rng, canvas, self.donors(kind.cutout, split), kind.cutout.height_m)
            elif kind.name == "street_stall":
                place_stall(rng, canvas, self.sprites, class_id)
            elif kind.name == "illegal_ad":
                place_ad(rng, canvas, *self.ad_texts, class_id)
            else:
                place_grime(rng, canvas, class_id)


def _record(placed: Placed, k: float) -> dict[str, Any]:
    """What was placed, in the camera's pixels (`k` of them per frame pixel)."""
    record = asdict(placed)
    record["xyxy"] = [round(v * k, 1) for v in placed.xyxy]
    if placed.foot_y is not None:
        record["foot_y"] = round(placed.foot_y * k, 1)
    return record


def _box(values: Any) -> Box:
    return (float(values[0]), float(values[1]), float(values[2]), float(values[3]))
