"""Run the synthetic generators over background photos of a build, deterministically."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from datasets.importers import Example, SourceConfig, source_labels
from datasets.synthetic.ads import AdTexts, cjk_font, compose_ads
from datasets.synthetic.surface import WallSurface
from datasets.yolo import Labels
from vision.detector import Detector
from vision.taxonomy import Taxonomy

# Anything the COCO model finds in front of a wall (people, cars, bikes, bins, plants) is not wall.
OCCLUDER_CONFIDENCE = 0.3


class SyntheticSpec(BaseModel):
    """One generator run of a build: which generator, on which source's photos, how many per photo."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    generator: Literal["illegal_ad"] = Field(description="what to compose")
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
    """Yield up to `per_background` composed photos per background (none where no wall is free); seeded."""
    texts, font = AdTexts.load(), cjk_font()
    class_id = taxonomy.names.index(spec.generator)
    for index, background in enumerate(backgrounds):
        image = cv2.imdecode(np.frombuffer(background.image.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
        surface = _surface(image, background, source, occluders)
        for copy in range(spec.per_background):
            rng = np.random.default_rng([seed, index, copy])
            composed, placements = compose_ads(rng, image, surface, texts, font)
            if not placements:  # no free wall in reach on this photo: the plain photo is already a negative
                continue
            ok, encoded = cv2.imencode(".jpg", composed, [cv2.IMWRITE_JPEG_QUALITY, 92])
            if not ok:
                raise RuntimeError(f"could not encode the composed {background.image}")
            h, w = composed.shape[:2]
            boxes = np.array([p.xyxy for p in placements], np.float64).reshape(-1, 4)
            yolo = np.column_stack(
                [(boxes[:, 0] + boxes[:, 2]) / 2 / w, (boxes[:, 1] + boxes[:, 3]) / 2 / h,
                 (boxes[:, 2] - boxes[:, 0]) / w, (boxes[:, 3] - boxes[:, 1]) / h]
            )  # fmt: skip
            labels = Labels(yolo, np.full(len(placements), class_id, np.int64))
            name = f"synthetic-{spec.generator}__{background.source}__{background.image.stem}__{copy}"
            record = {
                "generator": spec.generator,
                "seed": [seed, index, copy],
                "placed": [asdict(p) for p in placements],
            }
            yield Generated(name, background, encoded.tobytes(), labels, record)


def _surface(image: np.ndarray, background: Example, source: SourceConfig, occluders: Detector | None) -> WallSurface:
    h, w = image.shape[:2]
    structure = source_labels(background, source).boxes
    structure_xyxy = np.column_stack(
        [(structure[:, 0] - structure[:, 2] / 2) * w, (structure[:, 1] - structure[:, 3] / 2) * h,
         (structure[:, 0] + structure[:, 2] / 2) * w, (structure[:, 1] + structure[:, 3] / 2) * h]
    )  # fmt: skip
    found = occluders.detect(image) if occluders is not None else None
    occluder_xyxy = found.xyxy[found.confidence >= OCCLUDER_CONFIDENCE] if found is not None else np.zeros((0, 4))
    return WallSurface.from_boxes((h, w), structure_xyxy.reshape(-1, 4), occluder_xyxy)
