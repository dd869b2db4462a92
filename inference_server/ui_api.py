"""The endpoints the review UI needs beyond the core API (`/api/v1/ui/...`), as one router.

Each checks its role with the shared dependencies of `deps`; the UI (`review_ui/`) calls only these, the core API and
the evidence files. Changes ride on the session cookie and so need the CSRF header (see `deps.user`).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import yaml
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select as sa_select
from sqlmodel import col, func, select

from inference_server import auth, dashboard, review
from inference_server.cases import DEADLINES, STATES, TRANSITIONS, TransitionError, transition
from inference_server.deps import DbSession, role
from inference_server.tables import (
    Case,
    CaseEvent,
    CasePhoto,
    CaseSighting,
    ReviewDecision,
    Sighting,
    SightingPublic,
    User,
)
from vision.taxonomy import load_taxonomy

REVIEW_UI = Path(__file__).resolve().parents[1] / "review_ui"  # the static front-end the app serves at /ui
DEPARTMENTS = Path(__file__).with_name("config") / "departments.yaml"
BOARD_STATES = ("filed", "dispatched", "handling", "verifying", "closed")
MAP_LIMIT = 5000

# row ids: SQLite and PostgreSQL integers are signed 64-bit; dates a city's statistics can mean
RowId = Annotated[int, PathParam(ge=1, le=2**63 - 1)]
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]
Day = Annotated[date | None, Query(ge=date(2000, 1, 1), le=date(2100, 1, 1))]

router = APIRouter(prefix="/api/v1/ui", tags=["review UI"])
Viewer = Annotated[User, Depends(role("viewer"))]
Reviewer = Annotated[User, Depends(role("reviewer"))]
Supervisor = Annotated[User, Depends(role("supervisor"))]
Admin = Annotated[User, Depends(role("admin"))]


class BatchRejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[Id] = Field(min_length=1, max_length=500)
    note: str = Field(default="", max_length=2000)


class DispatchIn(BaseModel):
    """派遣: to a department, by a deadline (the class's working-hours deadline when left out)."""

    model_config = ConfigDict(extra="forbid")
    department: str = Field(min_length=1, max_length=200)
    deadline: datetime | None = None
    note: str = Field(default="", max_length=2000)


def _zone() -> str:
    return str(yaml.safe_load(DEADLINES.read_text(encoding="utf-8")).get("timezone", "Asia/Shanghai"))


def _day_start(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(zone)).astimezone(UTC)


@router.get("/config")
def ui_config(who: Viewer) -> dict[str, Any]:
    """Who is signed in, the classes (with their 中文 names and colours), states, transitions, departments."""
    departments = yaml.safe_load(DEPARTMENTS.read_text(encoding="utf-8"))["departments"]
    return {
        "user": {"id": who.id, "username": who.username, "role": who.role},
        "classes": [c.model_dump(include={"name", "zh", "color", "category"}) for c in load_taxonomy().classes],
        "states": STATES,
        "transitions": {state: sorted(to) for state, to in TRANSITIONS.items()},
        "departments": departments,
        "targets": dashboard.TARGETS,
        "timezone": _zone(),
    }


@router.get("/review/next")
def review_next(
    s: DbSession,
    _: Reviewer,
    class_name: str | None = None,
    district: str | None = None,
    min_score: Annotated[float, Query(ge=0, le=1)] = 0.0,
    order: Annotated[str, Query(pattern="^(score|low|time|oldest)$")] = "score",
    exclude: Annotated[list[Annotated[int, Field(ge=1, le=2**63 - 1)]] | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=5)] = 2,
) -> dict[str, Any]:
    """The next pending sightings (the first to show, the rest to preload), each with its spot's history."""
    wanted = review.QueueFilter(
        class_name=class_name, district=district, min_score=min_score, order=order, exclude=exclude or []
    )
    items = [review.with_context(s, row) for row in review.next_pending(s, wanted, limit)]
    return {"pending": review.pending_count(s, wanted), "items": items}


@router.get("/review/grid")
def review_grid(
    s: DbSession,
    _: Reviewer,
    class_name: str | None = None,
    district: str | None = None,
    order: Annotated[str, Query(pattern="^(score|low|time|oldest)$")] = "low",
    limit: Annotated[int, Query(ge=1, le=200)] = 60,
) -> dict[str, Any]:
    """Batch mode: a page of pending sightings (least sure first), without their spot's history."""
    wanted = review.QueueFilter(class_name=class_name, district=district, order=order)
    rows = review.next_pending(s, wanted, limit)
    return {
        "pending": review.pending_count(s, wanted),
        "items": [SightingPublic.model_validate(r).model_dump(mode="json") for r in rows],
    }


@router.get("/areas")
def areas(request: Request, _: Viewer) -> dict[str, Any]:
    """The district and street polygons of the server's config (`STREETWATCH_DISTRICTS`) as GeoJSON."""
    path = request.app.state.settings.districts
    if not path:
        return {"type": "FeatureCollection", "features": []}
    return dict(json.loads(Path(path).read_text(encoding="utf-8")))


@router.get("/sightings/{sighting_id}")
def sighting_detail(sighting_id: RowId, s: DbSession, _: Viewer) -> dict[str, Any]:
    """One sighting with its spot's history, its standing decision and its case (going back in the queue)."""
    found = s.get(Sighting, sighting_id)
    if found is None:
        raise HTTPException(404, f"no sighting {sighting_id}")
    return review.with_context(s, found)


@router.post("/review/undo")
def review_undo(s: DbSession, who: Reviewer) -> dict[str, Any]:
    """Take back the caller's latest decision; the sighting is pending again (see `review.undo_last`)."""
    try:
        restored = review.undo_last(s, who.id or 0)
    except review.UndoError as error:
        raise HTTPException(409, str(error)) from error
    s.commit()
    s.refresh(restored)
    return review.with_context(s, restored)


@router.post("/review/reject")
def review_reject_batch(batch: BatchRejectIn, s: DbSession, who: Reviewer) -> dict[str, list[int]]:
    """Batch mode: reject many obvious false positives at once; decided or unknown ids are skipped."""
    rejected, skipped = review.reject_many(s, batch.ids, who.id or 0, batch.note)
    s.commit()
    return {"rejected": rejected, "skipped": skipped}


@router.get("/cases/board")
def case_board(
    s: DbSession,
    _: Viewer,
    class_name: str | None = None,
    district: str | None = None,
    per_column: Annotated[int, Query(ge=1, le=200)] = 40,
) -> dict[str, Any]:
    """Counts by state with the overdue ones, and each column's cases (most urgent first)."""
    now = datetime.now(UTC)

    def scoped(query: Any) -> Any:
        if class_name:
            query = query.where(Case.class_name == class_name)
        return query.where(Case.district == district) if district else query

    counts = dict(s.exec(scoped(select(Case.state, func.count()).group_by(Case.state))).all())
    overdue = dict(
        s.exec(scoped(select(Case.state, func.count()).where(Case.deadline < now).group_by(Case.state))).all()
    )
    columns = []
    for state in BOARD_STATES:
        order = col(Case.updated).desc() if state == "closed" else col(Case.deadline)
        rows = s.exec(scoped(select(Case).where(Case.state == state)).order_by(order).limit(per_column)).all()
        columns.append({
            "state": state, "zh": STATES[state], "count": counts.get(state, 0),
            "overdue": 0 if state == "closed" else overdue.get(state, 0),
            "cases": [_case_card(c, now) for c in rows],
        })  # fmt: skip
    return {"columns": columns, "rejected": counts.get("rejected", 0)}


def _overdue(case: Case, now: datetime) -> bool:
    return case.state in review.OPEN_STATES and review.as_utc(case.deadline) < now


def _case_card(case: Case, now: datetime) -> dict[str, Any]:
    return {**case.model_dump(mode="json"), "overdue": _overdue(case, now)}


@router.get("/cases/{case_id}")
def case_detail(case_id: RowId, s: DbSession, who: Viewer) -> dict[str, Any]:
    """A case with its sightings, photos and timeline (each event with its user's name), and what the caller may do."""
    case = s.get(Case, case_id)
    if case is None:
        raise HTTPException(404, f"no case {case_id}")
    names = dict(s.exec(select(User.id, User.username)).all())
    events = s.exec(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(col(CaseEvent.id))).all()
    photos = s.exec(select(CasePhoto).where(CasePhoto.case_id == case_id).order_by(col(CasePhoto.id))).all()
    sightings = s.exec(
        select(Sighting).join(CaseSighting, col(CaseSighting.sighting_id) == Sighting.id)
        .where(CaseSighting.case_id == case_id).order_by(col(Sighting.best_time))
    ).all()  # fmt: skip
    may_act = auth.rank(who.role) >= auth.rank("supervisor")
    return {
        "case": _case_card(case, datetime.now(UTC)),
        "state_zh": STATES[case.state],
        "events": [{**e.model_dump(mode="json"), "username": names.get(e.user_id or 0)} for e in events],
        "photos": [{**p.model_dump(mode="json"), "username": names.get(p.user_id)} for p in photos],
        "sightings": [review.with_context(s, row, context=False) for row in sightings],
        "actions": sorted(TRANSITIONS[case.state]) if may_act else [],
        "may_upload": may_act,
    }


@router.post("/cases/{case_id}/dispatch")
def dispatch(case_id: RowId, order: DispatchIn, s: DbSession, who: Supervisor) -> dict[str, Any]:
    """派遣 a filed case to a department, optionally with its own deadline (logged in the note)."""
    case = s.get(Case, case_id)
    if case is None:
        raise HTTPException(404, f"no case {case_id}")
    note = order.note
    if order.deadline is not None:
        due = order.deadline if order.deadline.tzinfo else order.deadline.replace(tzinfo=ZoneInfo(_zone()))
        if not datetime.now(UTC) < due < datetime.now(UTC) + timedelta(days=366):
            raise HTTPException(422, "the deadline must be in the future, within a year")
        case.deadline = due.astimezone(UTC)
        note = f"{note} (deadline {due.isoformat(timespec='minutes')})".strip()
    try:
        transition(s, case, "dispatched", who.id or 0, note, order.department)
    except TransitionError as error:
        raise HTTPException(409, str(error)) from error
    s.commit()
    return {"case": case_id, "state": case.state, "deadline": case.deadline.isoformat()}


@router.get("/dashboard")
def dashboard_stats(
    s: DbSession,
    _: Viewer,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
    district: str | None = None,
) -> dict[str, Any]:
    """Per district and street over the last `days`: filed, closed, overdue, median time to close, the rates."""
    zone = _zone()
    now = datetime.now(UTC)
    since = _day_start(now.astimezone(ZoneInfo(zone)).date() - timedelta(days=days - 1), zone)
    rows = dashboard.load_rows(s, since, district)
    return {"days": days, "since": since.isoformat(), **dashboard.summary(rows, now, since, zone)}


@router.get("/map")
def map_data(
    s: DbSession,
    _: Viewer,
    class_name: str | None = None,
    state: str | None = None,
    status: Annotated[str | None, Query(pattern="^(pending|confirmed|rejected)$")] = None,
    since: Day = None,
    until: Day = None,
) -> dict[str, Any]:
    """The map's points, newest first: cases and sightings (the polygons come from `/areas`).

    Points are compact rows — cases `[id, lat, lon, class, state, overdue]`, sightings `[id, lat, lon, class,
    status]` — at most 5,000 of each."""
    zone, now = _zone(), datetime.now(UTC)
    # plain columns, not table objects: 10,000 points must not cost 10,000 model instances
    cases = sa_select(
        col(Case.id), col(Case.lat), col(Case.lon), col(Case.class_name), col(Case.state), col(Case.deadline)
    ).where(col(Case.lat).is_not(None))
    sightings = sa_select(
        col(Sighting.id), col(Sighting.lat), col(Sighting.lon), col(Sighting.class_name), col(Sighting.status)
    ).where(col(Sighting.lat).is_not(None), col(Sighting.status) != "empty_frame")
    if class_name:
        cases, sightings = (
            cases.where(col(Case.class_name) == class_name),
            sightings.where(col(Sighting.class_name) == class_name),
        )
    if state:
        cases = cases.where(col(Case.state) == state)
    if status:
        sightings = sightings.where(col(Sighting.status) == status)
    if since:
        start = _day_start(since, zone)
        cases, sightings = (
            cases.where(col(Case.created) >= start),
            sightings.where(col(Sighting.best_time) >= start.timestamp()),
        )
    if until:
        end = _day_start(until + timedelta(days=1), zone)
        cases, sightings = (
            cases.where(col(Case.created) < end),
            sightings.where(col(Sighting.best_time) < end.timestamp()),
        )
    case_rows = s.execute(cases.order_by(col(Case.id).desc()).limit(MAP_LIMIT)).all()
    sighting_rows = s.execute(sightings.order_by(col(Sighting.id).desc()).limit(MAP_LIMIT)).all()
    return {
        "cases": [
            [i, lat, lon, name, state, state in review.OPEN_STATES and review.as_utc(due) < now]
            for i, lat, lon, name, state, due in case_rows
        ],
        "sightings": [list(row) for row in sighting_rows],
        "limit": MAP_LIMIT,
    }


@router.get("/admin/users")
def admin_users(s: DbSession, _: Admin) -> list[dict[str, Any]]:
    """Everyone who can sign in, with how many review decisions each made (admins only)."""
    decided = dict(
        s.exec(select(ReviewDecision.user_id, func.count()).group_by(ReviewDecision.user_id)).all()  # type: ignore[arg-type]
    )
    users = s.exec(select(User).order_by(col(User.id))).all()
    return [
        {"id": u.id, "username": u.username, "role": u.role, "active": u.active, "created": u.created.isoformat(),
         "decisions": decided.get(u.id or 0, 0)}
        for u in users
    ]  # fmt: skip
