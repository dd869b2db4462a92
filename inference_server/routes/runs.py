"""Patrol runs: a device's summary of its run, and the runs for people (`inference_server.runs`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from sqlmodel import col, select

from inference_server.deps import DbSession, IntakeDep, RowId, Sender, Viewer, get_or_404
from inference_server.runs import RunPublic, RunSummaryIn, public
from inference_server.tables import Device, PatrolRun

router = APIRouter(prefix="/api/v1/runs", tags=["runs"])
RunKey = Annotated[str, PathParam(min_length=1, max_length=200)]


@router.put("/{key}", response_model=RunPublic)
def report_run(key: RunKey, summary: RunSummaryIn, s: DbSession, sender: Sender, intake: IntakeDep) -> RunPublic:
    """The device's summary of a run (repeatable: the last summary wins)."""
    run = s.get(PatrolRun, intake.run_ids.get(intake.engine, sender.id or 0, key))
    assert run is not None
    for name, value in summary.model_dump(exclude_unset=True).items():
        setattr(run, name, value)
    s.add(run)
    s.commit()
    s.refresh(run)
    return public(run, sender.name)


@router.get("", response_model=list[RunPublic])
def list_runs(s: DbSession, _: Viewer, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[RunPublic]:
    """Newest runs first, with how many sightings each brought in."""
    rows = s.exec(select(PatrolRun, Device.name).join(Device).order_by(col(PatrolRun.id).desc()).limit(limit)).all()
    return [public(run, name) for run, name in rows]


@router.get("/{run_id}", response_model=RunPublic)
def get_run(run_id: RowId, s: DbSession, _: Viewer) -> RunPublic:
    run = get_or_404(s, PatrolRun, run_id, "run")
    found = s.get(Device, run.device_id)
    return public(run, found.name if found else "")
