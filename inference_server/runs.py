"""Patrol runs: a drive of a patrol car or a session of a camera, named by the device.

A device names its run in each sighting (`run`: e.g. the video and its start time); the first sighting of a run
creates it, each new sighting counts into it in the same transaction as its own row, and the device may send a
summary when the run ends (`PUT /api/v1/runs/{key}`: start, end, distance driven, frames analysed). Supervisors
see which streets were covered and what each drive found. The endpoints are `routes.runs`.
"""

from __future__ import annotations

import threading
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import case, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from inference_server.tables import PatrolRun
from vision.wire import Count, Label, Metres, UnixTime


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


def public(run: PatrolRun, device_name: str) -> RunPublic:
    """A run as the API shows it, with its device's name."""
    return RunPublic.model_validate(run).model_copy(update={"device": device_name})
