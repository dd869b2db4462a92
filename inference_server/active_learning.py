"""Active learning: order the review queue so that the sightings a reviewer learns the model most from come first.

A sighting's informativeness is a weighted sum of three terms in [0, 1]:

- uncertainty: 1 at the review threshold, falling linearly to 0 at the far end of the score range;
- rarity: 1 - (sightings of its class / sightings of the most common class), so rare classes come up;
- disagreement: |edge score - server fp32 score| for sightings from an edge device (int8), when the server's
  detector re-scored its evidence frame (cached; at most `rescore_budget` new re-scorings per request).

A share of the returned slots (`random_share`) is filled with pending sightings drawn uniformly at random and spread
evenly through the list, so the labels that come back are not only the hard cases (an unbiased sample to estimate
precision from, and no feedback loop that hides what the model is sure and wrong about).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, func, select

from inference_server.evidence import evidence_path
from inference_server.tables import Sighting
from vision.detector import Detector
from vision.errors import StreetWatchError
from vision.images import load_image
from vision.nms import box_iou


class ActiveLearningConfig(BaseModel):
    """Weights of the review queue's `order=informative`."""

    model_config = ConfigDict(extra="forbid")

    uncertainty_weight: float = Field(default=1.0, ge=0, description="scores near the review threshold")
    rarity_weight: float = Field(default=0.5, ge=0, description="classes seen rarely")
    disagreement_weight: float = Field(default=1.0, ge=0, description="edge int8 vs server fp32 score gap")
    random_share: float = Field(default=0.2, ge=0, le=1, description="share of slots drawn uniformly at random")
    pool: int = Field(default=1000, ge=1, description="pending sightings considered per request (newest first)")
    rescore_budget: int = Field(default=8, ge=0, description="new server re-scorings per request (cached)")
    seed: int | None = Field(default=None, description="fix the random draw (tests); None: a new draw each time")


def uncertainty(score: float, threshold: float) -> float:
    """1 at the threshold, 0 at whichever end of [0, 1] is farther from it."""
    return 1.0 - abs(score - threshold) / max(threshold, 1.0 - threshold)


def rarity(class_name: str, counts: dict[str, int]) -> float:
    most = max(counts.values(), default=0)
    return 1.0 - counts.get(class_name, 0) / most if most else 0.0


def informative_order(
    rows: Sequence[Sighting],
    limit: int,
    threshold: float,
    counts: dict[str, int],
    config: ActiveLearningConfig,
    disagreement: Callable[[Sighting], float | None] | None = None,
) -> list[Sighting]:
    """`limit` of `rows`, most informative first, with `random_share` of the slots random (evenly spaced)."""
    rng = random.Random(config.seed)

    def value(row: Sighting) -> float:
        gap = disagreement(row) if disagreement and config.disagreement_weight else None
        return (
            config.uncertainty_weight * uncertainty(row.score, threshold)
            + config.rarity_weight * rarity(row.class_name, counts)
            + config.disagreement_weight * (gap or 0.0)
        )

    ranked = sorted(rows, key=lambda r: (-value(r), r.id or 0))
    n_random = min(len(ranked), round(min(limit, len(ranked)) * config.random_share))
    chosen = rng.sample(ranked, n_random) if n_random else []
    picked = {id(r) for r in chosen}
    rest = iter(r for r in ranked if id(r) not in picked)
    out: list[Sighting] = []
    total = min(limit, len(ranked))
    every = total / n_random if n_random else 0.0
    slots = {min(total - 1, int(every * (i + 0.5))) for i in range(n_random)}
    randoms = iter(chosen)
    for slot in range(total):
        out.append(next(randoms) if slot in slots else next(rest))
    return out


class ServerRescorer:
    """Edge-vs-server disagreement: the server's fp32 detector re-scores an edge sighting's evidence frame.

    The gap is |edge score - the server's best same-class score at IoU >= 0.5| (0 when the server finds nothing
    there counts as a gap of the full edge score). Cached per sighting and served model; at most `budget` new
    re-scorings per call to `reset_budget`, so a queue request stays fast.
    """

    def __init__(self, detector: Callable[[], tuple[Detector, str]], evidence_dir: Path) -> None:
        self.detector = detector
        self.evidence_dir = evidence_dir
        self.cache: dict[tuple[int, str], float] = {}
        self.budget = 0

    def __call__(self, row: Sighting) -> float | None:
        if row.source == "server detector" or row.id is None:
            return None  # the server's own sightings: nothing to disagree with
        detector, reference = self.detector()
        key = (row.id, reference)
        if key not in self.cache:
            if self.budget <= 0:
                return None
            self.budget -= 1
            self.cache[key] = self._gap(detector, row)
        return self.cache[key]

    def _gap(self, detector: Detector, row: Sighting) -> float:
        path = evidence_path(self.evidence_dir, row.frame_sha256)
        try:
            found = detector.detect(load_image(path))
        except StreetWatchError:
            return 0.0
        names = detector.class_names
        same = [i for i in range(len(found)) if names[int(found.class_id[i])] == row.class_name]
        if not same:
            return row.score
        ious = box_iou(np.array([row.box], dtype=np.float32), found.xyxy[same].astype(np.float32))[0]
        scores = [float(found.confidence[i]) for i, iou in zip(same, ious, strict=True) if iou >= 0.5]
        return abs(row.score - max(scores)) if scores else row.score


def informative_queue(
    session: Session, query: Any, limit: int, threshold: float, config: ActiveLearningConfig, rescorer: ServerRescorer
) -> list[Sighting]:
    """The pending sightings `query` selects, most informative first (see the module's docstring)."""
    rows = session.exec(query.order_by(col(Sighting.best_time).desc()).limit(config.pool)).all()
    counted = session.exec(
        select(Sighting.class_name, func.count()).where(Sighting.class_name != "").group_by(Sighting.class_name)
    ).all()
    rescorer.budget = config.rescore_budget
    return informative_order(rows, limit, threshold, dict(counted), config, rescorer)
