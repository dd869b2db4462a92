"""The promotion gate: nothing worse reaches the patrol cars.

Rule: compare candidate and current model on the same frozen benchmark, class by class (AP50), over the classes
with ground truth there. The candidate is promoted only if

1. no class loses more than `margin` AP50 (candidate >= current - margin for every class), and
2. the mean AP50 over those classes improves by more than `min_gain` (default 0: any improvement).

Otherwise it is kept in the registry as rejected, with the reasons.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class GateRule:
    margin: float = 0.02  # AP50 any one class may lose
    min_gain: float = 0.0  # the mean AP50 must rise by more than this


@dataclass
class GateDecision:
    promote: bool
    reasons: list[str]
    candidate_mean: float | None
    current_mean: float | None
    classes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def gate(
    candidate: dict[str, float | None], current: dict[str, float | None], rule: GateRule = GateRule()
) -> GateDecision:
    """Apply the rule to per-class AP50 (None: no ground truth for that class on the benchmark)."""
    classes = [c for c in current if current[c] is not None and candidate.get(c) is not None]
    if not classes:
        return GateDecision(False, ["no class has ground truth on the benchmark: nothing to compare"], None, None)
    reasons = []
    for name in classes:
        new, old = candidate[name], current[name]
        assert new is not None and old is not None
        if new < old - rule.margin:
            reasons.append(f"{name}: AP50 {new:.3f} < {old:.3f} - margin {rule.margin:.3f}")
    new_mean = sum(candidate[c] or 0.0 for c in classes) / len(classes)
    old_mean = sum(current[c] or 0.0 for c in classes) / len(classes)
    if not new_mean - old_mean > rule.min_gain:
        reasons.append(f"mean AP50 {new_mean:.3f} vs {old_mean:.3f}: gain not above {rule.min_gain:.3f}")
    return GateDecision(not reasons, reasons, round(new_mean, 4), round(old_mean, 4), classes)
