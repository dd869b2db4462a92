"""Run the synthetic generators over background photos of a build, deterministically."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from datasets.importers import Example, SourceConfig, source_labels
from datasets.synthetic.ads import AdTexts, Shrink, cjk_font, compose_ads
from datasets.synthetic.grime import compose_grime
from datasets.synthetic.stalls import (
    GroundReference,
    LibrarySpec,
    compose_stalls,
    load_library,
    render_cache,
    render_library,
)
from datasets.synthetic.surface import WallSurface
from datasets.yolo import Labels
from vision.detector import Detector
from vision.taxonomy import Taxonomy

# Anything the COCO model finds in front of a wall (people, cars, bikes, bins, plants) is not wall.
OCCLUDER_CONFIDENCE = 0.3


class SyntheticSpec(BaseModel):
    """One generator run of a build: which generator, on which source's photos, how many per photo."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    generator: Literal["illegal_ad", "dirty_facade", "street_stall"] = Field(description="what to compose")
    backgrounds: str = Field(description="name of the source whose photos are the backgrounds")
    per_background: int = Field(default=1, ge=1, description="examples made from each background photo")
    max_backgrounds: int | None = Field(default=None, ge=1, description="random subset of the backgrounds")
    renders: int = Field(
        default=160, ge=1, description="street_stall: 3D stalls rendered (once, cached, shared by builds)"
    )
    ad_shrink: Shrink = Field(
        default="bilinear",
        description="illegal_ad: how a flyer drawn large is shrunk, 'area' (like a camera; from base-v3 on) or "
        "'bilinear' (jagged strokes; what builds up to base-v2 did, the default so that their configs rebuild "
        "byte for byte)",
    )


@dataclass(frozen=True)
class Generated:
    """A composed photo (JPEG bytes), its labels in taxonomy ids and the record of what was placed where."""

    name: str
    background: Example
    jpeg: bytes
    labels: Labels
    record: dict[str, Any]


def generate(
    spec: SyntheticSpec,
    backgrounds: list[Example],
    source: SourceConfig,
    taxonomy: Taxonomy,
    seed: int,
    occluders: Detector | None,
    cache: Path | None = None,
) -> Iterator[Generated]:
    """Yield up to `per_background` composed photos per background (none where nothing fits); seeded.

    `cache` holds renders reused across builds (the street stalls); default `stalls.render_cache()`.
    """
    compose = _composer(spec, seed, cache)
    class_id = taxonomy.names.index(spec.generator)
    for index, background in enumerate(backgrounds):
        image = cv2.imdecode(np.frombuffer(background.image.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"{background.image}: not a readable image, cannot compose onto it")
        scene = Scene(np.asarray(image), background, source, occluders)
        for copy in range(spec.per_background):
            rng = np.random.default_rng([seed, index, copy])
            composed, placed = compose(rng, scene)
            if not placed:  # nothing fitted on this photo: the plain photo is already in the dataset
                continue
            ok, encoded = cv2.imencode(".jpg", composed, [cv2.IMWRITE_JPEG_QUALITY, 92])
            if not ok:
                raise RuntimeError(f"could not encode the composed {background.image}")
            h, w = composed.shape[:2]
            labels = Labels.from_xyxy([p["xyxy"] for p in placed], [class_id] * len(placed), w, h)
            name = f"synthetic-{spec.generator}__{background.source}__{background.image.stem}__{copy}"
            record = {"generator": spec.generator, "seed": [seed, index, copy], "placed": placed}
            yield Generated(name, background, encoded.tobytes(), labels, record)


class Scene:
    """A background photo with what its source labels and what the COCO model sees in it (computed once)."""

    def __init__(self, image: np.ndarray, background: Example, source: SourceConfig, occluders: Detector | None):
        self.image, self.background, self.source, self._occluders = image, background, source, occluders

    @cached_property
    def labels(self) -> tuple[np.ndarray, list[str]]:
        """The source's own boxes (pixel xyxy) and their source class names."""
        h, w = self.image.shape[:2]
        labels = source_labels(self.background, self.source)
        return labels.xyxy(w, h), [self.source.classes[i] for i in labels.class_ids]

    @cached_property
    def occluder_boxes(self) -> np.ndarray:
        """People, cars, bikes and other COCO things found in the photo (pixel xyxy)."""
        if self._occluders is None:
            return np.zeros((0, 4), np.float32)
        found = self._occluders.detect(self.image)
        return found.xyxy[found.confidence >= OCCLUDER_CONFIDENCE]

    @cached_property
    def surface(self) -> WallSurface:
        h, w = self.image.shape[:2]
        return WallSurface.from_boxes((h, w), self.labels[0], self.occluder_boxes, self.image)

    @cached_property
    def windows(self) -> np.ndarray:
        xyxy, names = self.labels
        return np.asarray(xyxy[np.array([n == "window" for n in names], bool)].reshape(-1, 4))

    def ground_references(self) -> list[GroundReference]:
        xyxy, names = self.labels
        heights = self.source.ground_heights_m
        return [
            GroundReference((float(b[0]), float(b[1]), float(b[2]), float(b[3])), heights[n])
            for b, n in zip(xyxy, names, strict=True)
            if n in heights
        ]

    def events(self) -> np.ndarray:
        """Boxes of the source classes mapped to an event of the taxonomy (they must stay visible)."""
        xyxy, names = self.labels
        return np.asarray(xyxy[np.array([self.source.map.get(n) is not None for n in names], bool)].reshape(-1, 4))


Composer = Callable[[np.random.Generator, Scene], tuple[np.ndarray, list[dict[str, Any]]]]


def _composer(spec: SyntheticSpec, seed: int, cache: Path | None) -> Composer:
    if spec.generator == "illegal_ad":
        texts, font = AdTexts.load(), cjk_font()

        def ads(rng: np.random.Generator, scene: Scene) -> Any:
            composed, placements = compose_ads(rng, scene.image, scene.surface, texts, font, spec.ad_shrink)
            return composed, [asdict(p) for p in placements]

        return ads
    if spec.generator == "street_stall":
        sprites = load_library(render_library(LibrarySpec(count=spec.renders), cache or render_cache()))

        def stalls(rng: np.random.Generator, scene: Scene) -> Any:
            references = scene.ground_references()
            if not references:
                return scene.image, []
            keep = np.vstack([scene.events(), scene.occluder_boxes.reshape(-1, 4)])
            composed, placements = compose_stalls(rng, scene.image, references, keep, sprites)
            return composed, [asdict(p) for p in placements]

        return stalls

    def grime(rng: np.random.Generator, scene: Scene) -> Any:
        composed, stains = compose_grime(rng, scene.image, scene.surface.wall_only(), scene.windows)
        return composed, [asdict(s) for s in stains]

    return grime
