"""The review UI: its static front-end at `/ui/` and what its pages need beyond the core API (`/api/v1/ui/...`):
the config, the area polygons, the dashboard, the map and the admin's user list.

The UI's review and case endpoints live with their resources (`routes.review`, `routes.cases`). Each checks its role
with the shared dependencies of `deps`; changes ride on the session cookie and so need the CSRF header (see
`deps.user`).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy import select as sa_select
from sqlmodel import col, func, select

from inference_server import dashboard, review
from inference_server.cases import STATES, TRANSITIONS
from inference_server.deps import Admin, AppSettings, City, DbSession, Viewer
from inference_server.tables import Case, ReviewDecision, Sighting, User
from vision.taxonomy import load_taxonomy

REVIEW_UI = Path(__file__).resolve().parents[2] / "review_ui"  # the static front-end the app serves at /ui
MAP_LIMIT = 5000
# dates a city's statistics can mean
Day = Annotated[date | None, Query(ge=date(2000, 1, 1), le=date(2100, 1, 1))]

router = APIRouter(prefix="/api/v1/ui", tags=["review UI"])
home = APIRouter(include_in_schema=False)


class UserOut(BaseModel):
    id: int | None
    username: str
    role: str
    active: bool
    created: str
    decisions: int = Field(description="review decisions made")


@home.get("/")
def go_to_ui() -> RedirectResponse:
    return RedirectResponse("/ui/")


def _day_start(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(zone)).astimezone(UTC)


@router.get("/config")
def ui_config(who: Viewer, city: City) -> dict[str, Any]:
    """Who is signed in, the classes (with their 中文 names and colours), states, transitions, departments."""
    return {
        "user": {"id": who.id, "username": who.username, "role": who.role},
        "classes": [c.model_dump(include={"name", "zh", "color", "category"}) for c in load_taxonomy().classes],
        "states": STATES,
        "transitions": {state: sorted(to) for state, to in TRANSITIONS.items()},
        "departments": list(city.departments),
        "targets": dashboard.TARGETS,
        "timezone": city.timezone,
    }


@router.get("/areas")
def areas(settings: AppSettings, _: Viewer) -> dict[str, Any]:
    """The district and street polygons of the server's config (`STREETWATCH_DISTRICTS`) as GeoJSON."""
    path = settings.districts
    if not path:
        return {"type": "FeatureCollection", "features": []}
    return dict(json.loads(Path(path).read_text(encoding="utf-8")))


@router.get("/dashboard")
def dashboard_stats(
    s: DbSession,
    _: Viewer,
    city: City,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
    district: str | None = None,
) -> dict[str, Any]:
    """Per district and street over the last `days`: filed, closed, overdue, median time to close, the rates."""
    zone = city.timezone
    now = datetime.now(UTC)
    since = _day_start(now.astimezone(ZoneInfo(zone)).date() - timedelta(days=days - 1), zone)
    rows = dashboard.load_rows(s, since, district)
    return {"days": days, "since": since.isoformat(), **dashboard.summary(rows, now, since, zone)}


@router.get("/map")
def map_data(
    s: DbSession,
    _: Viewer,
    city: City,
    class_name: str | None = None,
    state: str | None = None,
    status: Annotated[str | None, Query(pattern="^(pending|confirmed|rejected)$")] = None,
    since: Day = None,
    until: Day = None,
) -> dict[str, Any]:
    """The map's points, newest first: cases and sightings (the polygons come from `/areas`).

    Points are compact rows — cases `[id, lat, lon, class, state, overdue]`, sightings `[id, lat, lon, class,
    status]` — at most 5,000 of each."""
    zone, now = city.timezone, datetime.now(UTC)
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
def admin_users(s: DbSession, _: Admin) -> list[UserOut]:
    """Everyone who can sign in, with how many review decisions each made (admins only)."""
    decided = dict(
        s.exec(select(ReviewDecision.user_id, func.count()).group_by(ReviewDecision.user_id)).all()  # type: ignore[arg-type]
    )
    users = s.exec(select(User).order_by(col(User.id))).all()
    return [
        UserOut(id=u.id, username=u.username, role=u.role, active=u.active, created=u.created.isoformat(),
                decisions=decided.get(u.id or 0, 0))
        for u in users
    ]  # fmt: skip
