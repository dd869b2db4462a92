"""Run the synthetic generators over background photos of a build, deterministically."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from datasets.importers import Example, SourceConfig, source_labels
from datasets.synthetic.ads import AdTexts, cjk_font, compose_ads
from datasets.synthetic.grime import compose_grime
from datasets.synthetic.surface import WallSurface
from datasets.yolo import Labels
from vision.detector import Detector
from vision.taxonomy import Taxonomy

# Anything the COCO model finds in front of a wall (people, cars, bikes, bins, plants) is not wall.
OCCLUDER_CONFIDENCE = 0.3


class SyntheticSpec(BaseModel):
    """One generator run of a build: which generator, on which source's photos, how many per photo."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    generator: Literal["illegal_ad", "dirty_facade"] = Field(description="what to compose")
    backgrounds: str = Field(description="name of the source whose photos are the backgrounds")
    per_background: int = Field(default=1, ge=1, description="examples made from each background photo")
    max_backgrounds: int | None = Field(default=None, ge=1, description="random subset of the backgrounds")


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
) -> Iterator[Generated]:
    """Yield up to `per_background` composed photos per background (none where nothing fits); seeded."""
    compose = _composer(spec.generator)
    class_id = taxonomy.names.index(spec.generator)
    for index, background in enumerate(backgrounds):
        image = cv2.imdecode(np.frombuffer(background.image.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
        surface, windows = _surface(image, background, source, occluders)
        for copy in range(spec.per_background):
            rng = np.random.default_rng([seed, index, copy])
            composed, placed = compose(rng, image, surface, windows)
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


Composer = Callable[[np.random.Generator, np.ndarray, WallSurface, np.ndarray], tuple[np.ndarray, list[dict[str, Any]]]]


def _composer(generator: str) -> Composer:
    if generator == "illegal_ad":
        texts, font = AdTexts.load(), cjk_font()

        def ads(rng: np.random.Generator, image: np.ndarray, surface: WallSurface, windows: np.ndarray) -> Any:
            composed, placements = compose_ads(rng, image, surface, texts, font)
            return composed, [asdict(p) for p in placements]

        return ads

    def grime(rng: np.random.Generator, image: np.ndarray, surface: WallSurface, windows: np.ndarray) -> Any:
        composed, stains = compose_grime(rng, image, surface.wall_only(), windows)
        return composed, [asdict(s) for s in stains]

    return grime


def _surface(
    image: np.ndarray, background: Example, source: SourceConfig, occluders: Detector | None
) -> tuple[WallSurface, np.ndarray]:
    """Where things may go on this photo, and its windows (pixel xyxy) when the source labels them."""
    h, w = image.shape[:2]
    labels = source_labels(background, source)
    structure = labels.xyxy(w, h)
    found = occluders.detect(image) if occluders is not None else None
    occluder_xyxy = found.xyxy[found.confidence >= OCCLUDER_CONFIDENCE] if found is not None else np.zeros((0, 4))
    window_id = source.classes.index("window") if "window" in source.classes else -1
    return WallSurface.from_boxes((h, w), structure, occluder_xyxy, image), structure[labels.class_ids == window_id]
