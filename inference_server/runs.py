"""Patrol runs: a drive of a patrol car or a session of a camera, named by the device.

A device names its run in each sighting (`run`: e.g. the video and its start time); the first sighting of a run
creates it, each new sighting counts into it in the same transaction as its own row, and the device may send a
summary when the run ends (`PUT /api/v1/runs/{key}`: start, end, distance driven, frames analysed). Supervisors
see which streets were covered and what each drive found.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict
from sqlalchemy import case, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from inference_server.deps import DbSession, device, role
from inference_server.tables import Device, PatrolRun, User
from inference_server.wire import Count, Label, Metres, UnixTime

RunKey = Annotated[str, PathParam(min_length=1, max_length=200)]


class RunSummaryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    started: UnixTime | None = None
    ended: UnixTime | None = None
    distance_m: Metres | None = None
    frames_analysed: Count | None = None
    source: Label = ""


class RunPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    device_id: int
    device: str = ""
    key: str
    first_time: float | None
    last_time: float | None
    sightings: int
    started: float | None
    ended: float | None
    distance_m: float | None
    frames_analysed: int | None
    source: str


class RunIds:
    """(device, run key) → run id; a run is created by its first sighting, once even under concurrent requests."""

    def __init__(self) -> None:
        self._known: dict[tuple[int, str], int] = {}
        self._lock = threading.Lock()

    def get(self, engine: Any, device_id: int, key: str) -> int:
        with self._lock:
            known = self._known.get((device_id, key))
        if known is not None:
            return known
        with Session(engine) as s:  # its own short transaction: the run outlives a sighting that fails
            found = _find(s, device_id, key)
            if found is None:
                s.add(PatrolRun(device_id=device_id, key=key))
                try:
                    s.commit()
                except IntegrityError:  # created by a concurrent request a moment ago
                    s.rollback()
                found = _find(s, device_id, key)
            assert found is not None and found.id is not None
            run_id = found.id
        with self._lock:
            if len(self._known) > 10_000:
                self._known.clear()
            self._known[device_id, key] = run_id
        return run_id


def count_sightings(s: Session, run_id: int, times: list[float]) -> None:
    """Add sightings seen at `times` to a run, in the caller's transaction (no lost updates: one SQL UPDATE)."""
    first, last = min(times), max(times)
    s.exec(
        update(PatrolRun)
        .where(col(PatrolRun.id) == run_id)
        .values(
            sightings=PatrolRun.sightings + len(times),
            first_time=case((col(PatrolRun.first_time).is_(None) | (col(PatrolRun.first_time) > first), first),
                            else_=PatrolRun.first_time),
            last_time=case((col(PatrolRun.last_time).is_(None) | (col(PatrolRun.last_time) < last), last),
                           else_=PatrolRun.last_time),
        )
    )  # fmt: skip


def _find(s: Session, device_id: int, key: str) -> PatrolRun | None:
    return s.exec(select(PatrolRun).where(PatrolRun.device_id == device_id, PatrolRun.key == key)).first()


def _public(run: PatrolRun, device_name: str) -> RunPublic:
    return RunPublic.model_validate(run).model_copy(update={"device": device_name})


router = APIRouter()


@router.put("/api/v1/runs/{key}", response_model=RunPublic)
def report_run(key: RunKey, summary: RunSummaryIn, request: Request, s: DbSession,
               sender: Annotated[Device, Depends(device)]) -> RunPublic:  # fmt: skip
    """The device's summary of a run (repeatable: the last summary wins)."""
    run_id = request.app.state.run_ids.get(request.app.state.engine, sender.id or 0, key)
    run = s.get(PatrolRun, run_id)
    assert run is not None
    for name, value in summary.model_dump(exclude_unset=True).items():
        setattr(run, name, value)
    s.add(run)
    s.commit()
    s.refresh(run)
    return _public(run, sender.name)


@router.get("/api/v1/runs", response_model=list[RunPublic])
def list_runs(
    s: DbSession, _: Annotated[User, Depends(role("viewer"))], limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[RunPublic]:
    """Newest runs first, with how many sightings each brought in."""
    rows = s.exec(select(PatrolRun, Device.name).join(Device).order_by(col(PatrolRun.id).desc()).limit(limit)).all()
    return [_public(run, name) for run, name in rows]


@router.get("/api/v1/runs/{run_id}", response_model=RunPublic)
def get_run(
    run_id: Annotated[int, PathParam(ge=1, le=2**63 - 1)], s: DbSession, _: Annotated[User, Depends(role("viewer"))]
) -> RunPublic:
    run = s.get(PatrolRun, run_id)
    if run is None:
        raise HTTPException(404, f"no run {run_id}")
    found = s.get(Device, run.device_id)
    return _public(run, found.name if found else "")
