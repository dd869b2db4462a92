"""Review: the queue of pending sightings, decisions on them, taking a decision back, and batch rejection.

One `QueueFilter` says which pending sightings a reviewer works through and in which order (the core API's
`/review/queue` and the UI's `/ui/review/next` and `/ui/review/grid` all use it). A decision (`decide`) and a batch
rejection (`reject_many`) write the same `ReviewDecision` row, with the snapshot `undo_last` restores. Beyond the
queue, a reviewer working through hundreds of sightings an hour gets the next two at once (one to show, one to
preload) with the open cases and earlier sightings near each. The routes are `routes.review`.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, func, select

from inference_server.cases import CityRules, file_or_attach
from inference_server.tables import Case, CaseEvent, CaseSighting, ReviewDecision, Sighting, SightingPublic
from vision.geodesy import haversine_m
from vision.taxonomy import load_taxonomy
from vision.wire import Box

OPEN_STATES = ("filed", "dispatched", "handling", "verifying")
METRES_PER_DEGREE = 111_320.0


class QueueFilter(BaseModel):
    """Which pending sightings a reviewer works through, and in which order."""

    model_config = ConfigDict(extra="forbid")
    class_name: str | None = None
    district: str | None = None
    min_score: float = Field(default=0.0, ge=0, le=1)
    since: float | None = Field(default=None, description="only sightings seen at or after (Unix seconds)")
    order: str = Field(default="score", pattern="^(score|low|time|oldest)$", description="low: least sure first")
    exclude: list[int] = Field(default_factory=list, description="ids the reviewer skipped")

    def apply(self, query: Any) -> Any:
        """`query` (over `Sighting`) narrowed to the pending sightings this filter wants, unordered."""
        query = query.where(Sighting.status == "pending")
        if self.min_score > 0:
            query = query.where(Sighting.score >= self.min_score)
        if self.class_name:
            query = query.where(Sighting.class_name == self.class_name)
        if self.district:
            query = query.where(Sighting.district == self.district)
        if self.since is not None:
            query = query.where(Sighting.best_time >= self.since)
        if self.exclude:
            query = query.where(col(Sighting.id).not_in(self.exclude))
        return query


ORDERS = {
    "score": (col(Sighting.score).desc(), col(Sighting.id)),
    "low": (col(Sighting.score), col(Sighting.id)),
    "time": (col(Sighting.best_time).desc(), col(Sighting.id)),
    "oldest": (col(Sighting.best_time), col(Sighting.id)),
}


class DecisionIn(BaseModel):
    """A reviewer's decision about a sighting."""

    model_config = ConfigDict(extra="forbid")
    action: str = Field(pattern="^(confirm|reject|relabel|fix_box)$")
    class_name: str | None = Field(default=None, max_length=200)
    box: Box | None = None
    note: str = Field(default="", max_length=2000)


class DecisionError(ValueError):
    """A decision that does not hold together (a relabel without a known class, a fix_box without a box)."""


class AlreadyDecided(ValueError):
    """A decision about a sighting that is no longer pending."""


class UndoError(ValueError):
    """A decision that cannot be taken back (none left, or its case has moved on)."""


def pending_count(session: Session, wanted: QueueFilter) -> int:
    """How many pending sightings `wanted` lets through (`exclude` aside, it counts what `next_pending` pages)."""
    query = wanted.model_copy(update={"exclude": []}).apply(select(func.count()).select_from(Sighting))
    return int(session.exec(query).one())


def next_pending(session: Session, wanted: QueueFilter, limit: int) -> list[Sighting]:
    """The first `limit` pending sightings in the reviewer's order (the indexes of migration 0004 serve it)."""
    query = wanted.apply(select(Sighting)).order_by(*ORDERS[wanted.order]).limit(limit)
    return list(session.exec(query).all())


def decide(
    session: Session, sighting: Sighting, decision: DecisionIn, user_id: int, case_radius_m: float, rules: CityRules
) -> int | None:
    """Record a reviewer's decision on a pending sighting; returns the case a confirmation filed or joined.

    Confirm, relabel and fix_box all say "this is a real event": the sighting is confirmed and goes to the open case
    of its class within `case_radius_m`, or files a new one. The decision keeps the sighting's class and box as
    they were, for `undo_last`. Raises `AlreadyDecided` or `DecisionError`; the caller commits.
    """
    if sighting.status != "pending":
        raise AlreadyDecided(f"sighting {sighting.id} was decided already ({sighting.status})")
    before = _snapshot(sighting)
    if decision.action == "relabel":
        if decision.class_name not in load_taxonomy().names:
            raise DecisionError(f"relabel needs a known class_name, got {decision.class_name!r}")
        sighting.class_name = decision.class_name
    if decision.action == "fix_box":
        if decision.box is None:
            raise DecisionError("fix_box needs the corrected box")
        sighting.box = list(decision.box)
    box = list(decision.box) if decision.box else None
    session.add(ReviewDecision(
        sighting_id=sighting.id or 0, user_id=user_id, action=decision.action, class_name=decision.class_name,
        box=box, note=decision.note, before=before,
    ))  # fmt: skip
    case_id = None
    if decision.action == "reject":
        sighting.status = "rejected"
    else:
        sighting.status = "confirmed"
        case_id = file_or_attach(session, sighting, user_id, case_radius_m, rules).id
    session.add(sighting)
    return case_id


def _snapshot(sighting: Sighting) -> dict[str, Any]:
    """What an undo restores: the sighting's class and box before a decision."""
    return {"class_name": sighting.class_name, "box": list(sighting.box)}


def _box_around(lat: float, lon: float, metres: float) -> tuple[float, float, float, float]:
    dlat = metres / METRES_PER_DEGREE
    dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon


def spot_context(session: Session, sighting: Sighting, cases_m: float = 100, spot_m: float = 30) -> dict[str, Any]:
    """Open cases within `cases_m` and earlier sightings within `spot_m` of the sighting, closest / newest first."""
    if sighting.lat is None or sighting.lon is None:
        return {"cases": [], "earlier": []}
    lat, lon, now = sighting.lat, sighting.lon, datetime.now(UTC)
    south, north, west, east = _box_around(lat, lon, cases_m)
    cases = session.exec(
        select(Case)
        .where(col(Case.lat).between(south, north), col(Case.lon).between(west, east))
        .where(col(Case.state).in_(OPEN_STATES))
        .limit(50)
    ).all()
    distances = sorted(
        ((haversine_m(lat, lon, c.lat, c.lon), c) for c in cases if c.lat is not None and c.lon is not None),
        key=lambda pair: pair[0],
    )
    near_cases = [
        {"id": c.id, "class_name": c.class_name, "state": c.state, "deadline": c.deadline.isoformat(),
         "overdue": as_utc(c.deadline) < now, "distance_m": round(metres, 1)}
        for metres, c in distances[:5]
        if metres <= cases_m
    ]  # fmt: skip
    south, north, west, east = _box_around(lat, lon, spot_m)
    earlier = session.exec(
        select(Sighting)
        .where(col(Sighting.lat).between(south, north), col(Sighting.lon).between(west, east))
        .where(Sighting.id != sighting.id, Sighting.best_time < sighting.best_time, Sighting.status != "empty_frame")
        .order_by(col(Sighting.best_time).desc())
        .limit(5)
    ).all()
    return {
        "cases": near_cases,
        "earlier": [
            {"id": e.id, "class_name": e.class_name, "status": e.status, "best_time": e.best_time,
             "score": e.score, "crop_sha256": e.crop_sha256,
             "distance_m": round(haversine_m(lat, lon, e.lat or lat, e.lon or lon), 1)}
            for e in earlier
        ],
    }  # fmt: skip


def with_context(session: Session, sighting: Sighting, context: bool = True) -> dict[str, Any]:
    """The sighting as the API shows it, with its standing decision, its case and (unless `context` is False)
    `context`: the open cases nearby and earlier sightings of the spot."""
    shown = SightingPublic.model_validate(sighting).model_dump(mode="json")
    shown["context"] = spot_context(session, sighting) if context else None
    decision = session.exec(
        select(ReviewDecision)
        .where(ReviewDecision.sighting_id == sighting.id, col(ReviewDecision.undone).is_(None))
        .order_by(col(ReviewDecision.id).desc())
    ).first()
    shown["decision"] = decision.model_dump(mode="json", include={"action", "class_name", "box", "note", "decided"}) \
        if decision else None  # fmt: skip
    link = session.exec(select(CaseSighting).where(CaseSighting.sighting_id == sighting.id)).first()
    shown["case"] = link.case_id if link else None
    return shown


def undo_last(session: Session, user_id: int) -> Sighting:
    """Take back `user_id`'s latest decision: the sighting is pending again with its class and box as before.

    A confirmation is unlinked from its case; a case it alone filed, still 立案 and untouched, is removed with its
    filing event. When the case has moved on (dispatched, or others acted on it), the undo is refused.
    The decision row stays, marked `undone`, so the audit keeps both.
    """
    decision = session.exec(
        select(ReviewDecision)
        .where(ReviewDecision.user_id == user_id, col(ReviewDecision.undone).is_(None))
        .order_by(col(ReviewDecision.id).desc())
    ).first()
    if decision is None:
        raise UndoError("nothing to undo: no decision of yours is left")
    sighting = session.get(Sighting, decision.sighting_id)
    assert sighting is not None  # a foreign key
    if decision.action in ("relabel", "fix_box"):
        if decision.before is None:
            raise UndoError(f"decision {decision.id} predates undo: it did not keep the sighting's previous state")
        sighting.class_name = decision.before["class_name"]
        sighting.box = list(decision.before["box"])
    if sighting.status == "confirmed":
        _unlink_from_case(session, sighting)
    sighting.status = "pending"
    decision.undone = datetime.now(UTC)
    session.add(sighting)
    session.add(decision)
    return sighting


def _unlink_from_case(session: Session, sighting: Sighting) -> None:
    link = session.exec(select(CaseSighting).where(CaseSighting.sighting_id == sighting.id)).first()
    if link is None:
        return
    case = session.get(Case, link.case_id)
    assert case is not None
    others = session.exec(select(func.count()).select_from(CaseSighting).where(CaseSighting.case_id == case.id)).one()
    events = session.exec(select(CaseEvent).where(CaseEvent.case_id == case.id)).all()
    if others > 1:
        session.delete(link)
        return
    if case.state != "filed" or len(events) > 1:
        raise UndoError(f"case {case.id} has moved on ({case.state}, {len(events)} events): a supervisor decides now")
    session.delete(link)
    for event in events:
        session.delete(event)
    session.flush()
    session.delete(case)


def reject_many(session: Session, ids: list[int], user_id: int, note: str) -> tuple[list[int], list[int]]:
    """Reject the pending ones of `ids` (batch mode); returns (rejected, skipped: unknown or decided already)."""
    rows = {s.id: s for s in session.exec(select(Sighting).where(col(Sighting.id).in_(ids))).all()}
    rejected, skipped = [], []
    for sighting_id in dict.fromkeys(ids):
        sighting = rows.get(sighting_id)
        if sighting is None or sighting.status != "pending":
            skipped.append(sighting_id)
            continue
        sighting.status = "rejected"
        session.add(sighting)
        session.add(ReviewDecision(
            sighting_id=sighting_id, user_id=user_id, action="reject", note=note, before=_snapshot(sighting)
        ))  # fmt: skip
        rejected.append(sighting_id)
    return rejected, skipped


def as_utc(moment: datetime) -> datetime:
    """`moment` as an aware datetime (SQLite hands back naive UTC ones)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
