"""The review queue's informative order: uncertain, rare and disputed sightings first, with random ones mixed in."""

from __future__ import annotations

import pytest

from inference_server.active_learning import ActiveLearningConfig, informative_order, rarity, uncertainty
from inference_server.tables import Sighting


def _row(i: int, score: float, class_name: str = "exposed_garbage", source: str = "edge") -> Sighting:
    return Sighting(id=i, class_name=class_name, score=score, frames=3, first_time=0, last_time=0, best_time=i,
                    box=[0, 0, 1, 1], idempotency_key=str(i), metadata_sha256="", device_id=1, frame_sha256="",
                    crop_sha256="", source=source)  # fmt: skip


@pytest.mark.parametrize(("score", "expected"), [(0.25, 1.0), (1.0, 0.0), (0.625, 0.5), (0.0, 2 / 3)])
def test_uncertainty_peaks_at_the_threshold(score: float, expected: float) -> None:
    assert uncertainty(score, 0.25) == pytest.approx(expected)


def test_rarity() -> None:
    assert rarity("street_stall", {"exposed_garbage": 10, "street_stall": 1}) == pytest.approx(0.9)
    assert rarity("exposed_garbage", {"exposed_garbage": 10}) == 0.0


def test_uncertain_rare_and_disputed_come_first() -> None:
    rows = [_row(1, 0.95), _row(2, 0.27), _row(3, 0.9, "street_stall"), _row(4, 0.9)]
    counts = {"exposed_garbage": 50, "street_stall": 1}
    config = ActiveLearningConfig(random_share=0, rarity_weight=1.0)
    disputed = {4: 0.8}
    order = informative_order(rows, 4, 0.25, counts, config, lambda r: disputed.get(r.id or 0))
    # 3: rare (0.98) + 0.13; 2: at the threshold (0.97); 4: disputed (0.8) + 0.13; 1: sure and common (0.07)
    assert [r.id for r in order] == [3, 2, 4, 1]


def test_a_share_of_random_sightings_is_mixed_in_evenly() -> None:
    rows = [_row(i, 0.25 + i / 200) for i in range(100)]  # informativeness falls with the id
    config = ActiveLearningConfig(random_share=0.25, seed=7)
    order = informative_order(rows, 20, 0.25, {"exposed_garbage": 100}, config)
    assert len(order) == 20 and len({r.id for r in order}) == 20
    top = [r for r in order if (r.id or 0) < 15]
    assert len(top) >= 15 - 5  # 15 chosen by value, 5 at random (some of which may be top ones too)
    assert any((r.id or 0) >= 20 for r in order)  # random draws reach beyond the informative head
