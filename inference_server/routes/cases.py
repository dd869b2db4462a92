"""Cases through the 数字城管 workflow: the core API's list, record, transitions and photos, and the review UI's
board, case view and 派遣 (`/api/v1/ui/...`); the logic is `inference_server.cases`."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Query, UploadFile
from pydantic import BaseModel, Field
from sqlmodel import col, func, select

from inference_server import auth, cases, review
from inference_server.cases import STATES, TRANSITIONS, TransitionError
from inference_server.deps import (
    AppSettings,
    City,
    DbSession,
    IntakeDep,
    RowId,
    Supervisor,
    Viewer,
    get_or_404,
)
from inference_server.evidence import EvidenceError, Part, store
from inference_server.tables import Case, CaseEvent, CasePhoto, User
from inference_server.wire import unprocessable
from vision.errors import ImageError
from vision.images import decode_image

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])
ui = APIRouter(prefix="/api/v1/ui/cases", tags=["review UI"])
BOARD_STATES = ("filed", "dispatched", "handling", "verifying", "closed")


class CaseRecordOut(BaseModel):
    photos: list[CasePhoto]
    case: Case
    state_zh: str
    sightings: list[int] = Field(description="the ids of the sightings the case holds")
    events: list[CaseEvent] = Field(description="its trail, oldest first")


class TransitionOut(BaseModel):
    case: int
    state: str
    state_zh: str


class PhotoOut(BaseModel):
    case: int
    sha256: str


class DispatchOut(BaseModel):
    case: int
    state: str
    deadline: str


@router.get("")
def list_cases(
    s: DbSession, _: Viewer, state: str | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[Case]:
    query = select(Case)
    if state:
        query = query.where(Case.state == state)
    return list(s.exec(query.order_by(col(Case.id)).limit(limit)).all())


@router.get("/{case_id}")
def get_case(case_id: RowId, s: DbSession, _: Viewer) -> CaseRecordOut:
    found = cases.record(s, get_or_404(s, Case, case_id, "case"))
    return CaseRecordOut(
        photos=found.photos, case=found.case, state_zh=STATES[found.case.state],
        sightings=cases.sighting_ids(s, case_id), events=found.events,
    )  # fmt: skip


@router.post("/{case_id}/transition")
def change_case(case_id: RowId, change: cases.TransitionIn, s: DbSession, supervisor: Supervisor) -> TransitionOut:
    case = get_or_404(s, Case, case_id, "case")
    try:
        cases.change(s, case, change, supervisor.id or 0)
    except TransitionError as error:
        raise HTTPException(409, str(error)) from error
    s.commit()
    return TransitionOut(case=case_id, state=case.state, state_zh=STATES[case.state])


@router.post("/{case_id}/photos", status_code=201)
def add_case_photo(
    case_id: RowId,
    s: DbSession,
    who: Supervisor,
    intake: IntakeDep,
    settings: AppSettings,
    photo: Annotated[UploadFile, File(description="the rectified spot (JPEG or PNG)")],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> PhotoOut:
    """Attach a rectification photo; it is logged in the case's trail."""
    case = get_or_404(s, Case, case_id, "case")
    try:
        data = Part.of(photo.file).read_within(intake.limits.max_bytes, "photo")
        decode_image(data, intake.limits, "photo")
    except (ImageError, EvidenceError) as error:
        raise unprocessable(str(error)) from error
    digest = hashlib.sha256(data).hexdigest()
    store(settings.evidence_dir, digest, data)
    cases.add_photo(s, case, who.id or 0, digest, note)
    s.commit()
    return PhotoOut(case=case_id, sha256=digest)


@ui.get("/board")
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


def _case_card(case: Case, now: datetime) -> dict[str, Any]:
    overdue = case.state in review.OPEN_STATES and review.as_utc(case.deadline) < now
    return {**case.model_dump(mode="json"), "overdue": overdue}


@ui.get("/{case_id}")
def case_detail(case_id: RowId, s: DbSession, who: Viewer) -> dict[str, Any]:
    """A case with its sightings, photos and timeline (each event with its user's name), and what the caller may do."""
    found = cases.record(s, get_or_404(s, Case, case_id, "case"))
    names = dict(s.exec(select(User.id, User.username)).all())
    may_act = auth.rank(who.role) >= auth.rank("supervisor")
    return {
        "case": _case_card(found.case, datetime.now(UTC)),
        "state_zh": STATES[found.case.state],
        "events": [{**e.model_dump(mode="json"), "username": names.get(e.user_id or 0)} for e in found.events],
        "photos": [{**p.model_dump(mode="json"), "username": names.get(p.user_id)} for p in found.photos],
        "sightings": [review.with_context(s, row, context=False) for row in cases.sightings(s, case_id)],
        "actions": sorted(TRANSITIONS[found.case.state]) if may_act else [],
        "may_upload": may_act,
    }


@ui.post("/{case_id}/dispatch")
def dispatch(case_id: RowId, order: cases.DispatchIn, s: DbSession, who: Supervisor, city: City) -> DispatchOut:
    """派遣 a filed case to a department, optionally with its own deadline (logged in the note)."""
    case = get_or_404(s, Case, case_id, "case")
    try:
        cases.dispatch(s, case, order, who.id or 0, city.timezone)
    except cases.DeadlineError as error:
        raise HTTPException(422, str(error)) from error
    except TransitionError as error:
        raise HTTPException(409, str(error)) from error
    s.commit()
    return DispatchOut(case=case_id, state=case.state, deadline=case.deadline.isoformat())
