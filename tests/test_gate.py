"""The promotion gate's rule, by construction: no class loses more than the margin, and the mean improves."""

from __future__ import annotations

import pytest

from models.gate import GateRule, gate

CURRENT = {"illegal_ad": 0.80, "exposed_garbage": 0.60, "street_stall": None}


@pytest.mark.parametrize(
    ("candidate", "rule", "promote", "reason"),
    [
        ({"illegal_ad": 0.80, "exposed_garbage": 0.70}, GateRule(), True, None),
        ({"illegal_ad": 0.79, "exposed_garbage": 0.70}, GateRule(margin=0.02), True, None),  # within the margin
        ({"illegal_ad": 0.70, "exposed_garbage": 0.95}, GateRule(margin=0.02), False, "illegal_ad: AP50 0.700"),
        ({"illegal_ad": 0.70, "exposed_garbage": 0.95}, GateRule(margin=0.2), True, None),
        ({"illegal_ad": 0.80, "exposed_garbage": 0.60}, GateRule(), False, "gain not above 0.000"),  # no gain
        ({"illegal_ad": 0.80, "exposed_garbage": 0.62}, GateRule(min_gain=0.05), False, "gain not above 0.050"),
        ({"illegal_ad": 0.80, "exposed_garbage": 0.59}, GateRule(margin=1, min_gain=-1), True, None),
        ({"illegal_ad": None, "exposed_garbage": None}, GateRule(), False, "nothing to compare"),
    ],
)
def test_the_gate_follows_its_rule(
    candidate: dict[str, float | None], rule: GateRule, promote: bool, reason: str | None
) -> None:
    decision = gate({**candidate, "street_stall": None}, CURRENT, rule)
    assert decision.promote is promote
    if reason is None:
        assert decision.reasons == []
    else:
        assert any(reason in r for r in decision.reasons), decision.reasons


def test_classes_without_ground_truth_are_not_compared() -> None:
    decision = gate({"illegal_ad": 0.9, "exposed_garbage": 0.7, "street_stall": 0.0}, CURRENT)
    assert decision.classes == ["illegal_ad", "exposed_garbage"] and decision.candidate_mean == 0.8
