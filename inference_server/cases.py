"""The 数字城管 case workflow: 立案 → 派遣 → 处置 → 核查 → 结案, with rejection and reopening, as one state machine.

Every change writes a `CaseEvent` (who, when, from, to, note). Deadlines per class come from
`config/deadlines.yaml`, in working hours of the city's calendar. A case's record (its events and photos) and its
changes (a transition, 派遣 with a deadline of the supervisor's own, a rectification photo) are written here for both
the core API and the review UI's; the routes are `routes.cases`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel import Session, col, select

from inference_server.tables import Case, CaseEvent, CasePhoto, CaseSighting, Sighting
from inference_server.workhours import WorkingCalendar
from vision.geodesy import haversine_m

STATES = {
    "filed": "立案",
    "dispatched": "派遣",
    "handling": "处置",
    "verifying": "核查",
    "closed": "结案",
    "rejected": "不予立案",
}
TRANSITIONS: dict[str, set[str]] = {
    "filed": {"dispatched", "rejected"},
    "dispatched": {"handling", "filed"},  # back to filing when the department refuses it
    "handling": {"verifying"},
    "verifying": {"closed", "handling"},  # verification failed: back to handling
    "closed": {"filed"},  # reopened
    "rejected": {"filed"},  # reopened
}
CONFIG = Path(__file__).with_name("config")
DEADLINES, DEPARTMENTS = CONFIG / "deadlines.yaml", CONFIG / "departments.yaml"


class TransitionError(ValueError):
    """A state change the workflow does not allow."""


class CityRules(BaseModel):
    """The city's case rules, read once when the server starts: working hours per class from filing to closing on
    its calendar (`deadlines.yaml`), and the departments a supervisor dispatches to (`departments.yaml`); a city
    points `STREETWATCH_DEADLINES` / `STREETWATCH_DEPARTMENTS` at its own."""

    model_config = ConfigDict(frozen=True)

    calendar: WorkingCalendar
    hours: dict[str, float] = Field(description="working hours per class; `default` for the others")
    departments: tuple[str, ...] = ()

    @field_validator("hours")
    @classmethod
    def _has_default(cls, hours: dict[str, float]) -> dict[str, float]:
        if "default" not in hours:
            raise ValueError("hours: a `default` entry is needed for classes without their own")
        return hours

    @classmethod
    def load(cls, deadlines: Path = DEADLINES, departments: Path = DEPARTMENTS) -> CityRules:
        config = yaml.safe_load(deadlines.read_text(encoding="utf-8"))
        offices = yaml.safe_load(departments.read_text(encoding="utf-8"))["departments"]
        return cls(calendar=WorkingCalendar.model_validate(config), hours=config["hours"], departments=offices)

    @property
    def timezone(self) -> str:
        return self.calendar.timezone

    def deadline(self, class_name: str, filed: datetime) -> datetime:
        """When a case of `class_name` filed at `filed` is due: its working hours added on the city's calendar."""
        return self.calendar.add(filed, float(self.hours.get(class_name, self.hours["default"])))


def file_or_attach(session: Session, sighting: Sighting, user_id: int, radius_m: float, rules: CityRules) -> Case:
    """The open case of the sighting's class within `radius_m` (closest), or a new filed case."""
    open_cases = session.exec(
        select(Case).where(Case.class_name == sighting.class_name, col(Case.state).not_in(["closed", "rejected"]))
    ).all()
    near = []
    if sighting.lat is not None and sighting.lon is not None:
        for candidate in open_cases:
            if candidate.lat is not None and candidate.lon is not None:
                metres = haversine_m(candidate.lat, candidate.lon, sighting.lat, sighting.lon)
                if metres <= radius_m:
                    near.append((metres, candidate))
    if near:
        case = min(near, key=lambda pair: pair[0])[1]
    else:
        now = datetime.now(UTC)
        case = Case(
            class_name=sighting.class_name, lat=sighting.lat, lon=sighting.lon, district=sighting.district,
            street=sighting.street,
            deadline=rules.deadline(sighting.class_name, now), created=now, updated=now,
        )  # fmt: skip
        session.add(case)
        session.flush()
        session.add(CaseEvent(case_id=case.id or 0, user_id=user_id, to_state="filed", note=f"sighting {sighting.id}"))
    session.add(CaseSighting(case_id=case.id or 0, sighting_id=sighting.id or 0))
    return case


def transition(
    session: Session, case: Case, to: str, user_id: int, note: str = "", department: str | None = None
) -> None:
    if to not in STATES:
        raise TransitionError(f"unknown state {to!r}; states: {', '.join(STATES)}")
    if to not in TRANSITIONS[case.state]:
        allowed = ", ".join(sorted(TRANSITIONS[case.state])) or "none"
        raise TransitionError(
            f"case {case.id} is {case.state} ({STATES[case.state]}): it can go to {allowed}, not {to}"
        )
    if to == "dispatched" and not department:
        raise TransitionError("dispatching needs the department it goes to")
    session.add(CaseEvent(case_id=case.id or 0, user_id=user_id, from_state=case.state, to_state=to, note=note))
    case.state = to
    case.department = department or case.department
    case.updated = datetime.now(UTC)
    session.add(case)


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: str = Field(max_length=200)
    note: str = Field(default="", max_length=2000)
    department: str | None = Field(default=None, max_length=200)
    satisfaction: int | None = Field(default=None, ge=1, le=5, description="closing: the caller's 1-5 rating")


class DispatchIn(BaseModel):
    """派遣: to a department, by a deadline (the class's working-hours deadline when left out)."""

    model_config = ConfigDict(extra="forbid")
    department: str = Field(min_length=1, max_length=200)
    deadline: datetime | None = None
    note: str = Field(default="", max_length=2000)


class DeadlineError(ValueError):
    """A deadline a supervisor set that is not in the coming year."""


def change(session: Session, case: Case, wanted: TransitionIn, user_id: int) -> None:
    """Move a case to `wanted.to` (raises `TransitionError`); closing keeps the caller's rating. The caller commits."""
    transition(session, case, wanted.to, user_id, wanted.note, wanted.department)
    if wanted.to == "closed" and wanted.satisfaction is not None:
        case.satisfaction = wanted.satisfaction
        session.add(case)


def dispatch(session: Session, case: Case, order: DispatchIn, user_id: int, zone: str) -> None:
    """派遣 a case to a department, with the supervisor's own deadline if given (logged in the note).

    A deadline without a time zone is in the city's. Raises `DeadlineError` for one not within the coming year,
    `TransitionError` when the case cannot be dispatched. The caller commits.
    """
    note = order.note
    if order.deadline is not None:
        due = order.deadline if order.deadline.tzinfo else order.deadline.replace(tzinfo=ZoneInfo(zone))
        if not datetime.now(UTC) < due < datetime.now(UTC) + timedelta(days=366):
            raise DeadlineError("the deadline must be in the future, within a year")
        case.deadline = due.astimezone(UTC)
        note = f"{note} (deadline {due.isoformat(timespec='minutes')})".strip()
    transition(session, case, "dispatched", user_id, note, order.department)


def add_photo(session: Session, case: Case, user_id: int, sha256: str, note: str) -> None:
    """Attach a stored rectification photo to a case and log it in the case's trail. The caller commits."""
    session.add(CasePhoto(case_id=case.id or 0, user_id=user_id, sha256=sha256, note=note))
    session.add(CaseEvent(case_id=case.id or 0, user_id=user_id, from_state=case.state, to_state=case.state,
                          note=f"photo {sha256[:12]}: {note}".strip()))  # fmt: skip


@dataclass(frozen=True)
class CaseRecord:
    """A case with its trail: its events and photos, oldest first."""

    case: Case
    events: list[CaseEvent]
    photos: list[CasePhoto]


def record(session: Session, case: Case) -> CaseRecord:
    """The case's record, as both case views show it."""
    events = session.exec(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(col(CaseEvent.id))).all()
    photos = session.exec(select(CasePhoto).where(CasePhoto.case_id == case.id).order_by(col(CasePhoto.id))).all()
    return CaseRecord(case, list(events), list(photos))


def sighting_ids(session: Session, case_id: int) -> list[int]:
    """The ids of the sightings a case holds."""
    return [link.sighting_id for link in session.exec(select(CaseSighting).where(CaseSighting.case_id == case_id))]


def sightings(session: Session, case_id: int) -> list[Sighting]:
    """The sightings a case holds, oldest first."""
    return list(session.exec(
        select(Sighting).join(CaseSighting, col(CaseSighting.sighting_id) == Sighting.id)
        .where(CaseSighting.case_id == case_id).order_by(col(Sighting.best_time))
    ).all())  # fmt: skip
