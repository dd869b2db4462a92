"""The 数字城管 case workflow: 立案 → 派遣 → 处置 → 核查 → 结案, with rejection and reopening, as one state machine.

Every change writes a `CaseEvent` (who, when, from, to, note). Deadlines per class come from
`config/deadlines.yaml`, in working hours of the city's calendar.
"""

from datetime import UTC, datetime
from pathlib import Path

import yaml
from sqlmodel import Session, col, select

from inference_server.tables import Case, CaseEvent, CaseSighting, Sighting
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
DEADLINES = Path(__file__).with_name("config") / "deadlines.yaml"


class TransitionError(ValueError):
    """A state change the workflow does not allow."""


def deadline(class_name: str, filed: datetime) -> datetime:
    """When a case of `class_name` filed at `filed` is due: its working hours added on the city's calendar."""
    config = yaml.safe_load(DEADLINES.read_text(encoding="utf-8"))
    hours: dict[str, float] = config["hours"]
    return WorkingCalendar.model_validate(config).add(filed, float(hours.get(class_name, hours["default"])))


def file_or_attach(session: Session, sighting: Sighting, user_id: int, radius_m: float) -> Case:
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
            deadline=deadline(sighting.class_name, now), created=now, updated=now,
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
