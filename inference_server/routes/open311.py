"""Cases as Open311 GeoReport v2 service requests, public or for signed-in viewers (`STREETWATCH_OPEN311_PUBLIC`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Depends, Header, Query, Request
from sqlmodel import col, select

from inference_server.cases import STATES
from inference_server.deps import AppSettings, DbSession, role, user
from inference_server.tables import Case
from vision.taxonomy import load_taxonomy

router = APIRouter(prefix="/open311/v2", tags=["open311"])


def open311_request(case: Case) -> dict[str, Any]:
    """A case as an Open311 GeoReport v2 service request."""
    classes = {c.name: c for c in load_taxonomy().classes}
    event = classes.get(case.class_name)
    return {
        "service_request_id": str(case.id),
        "status": "closed" if case.state in ("closed", "rejected") else "open",
        "status_notes": f"{case.state} ({STATES[case.state]})",
        "service_name": event.zh if event else case.class_name,
        "service_code": case.class_name,
        "agency_responsible": case.department,
        "requested_datetime": case.created.isoformat(),
        "updated_datetime": case.updated.isoformat(),
        "expected_datetime": case.deadline.isoformat(),
        "address": " ".join(p for p in (case.district, case.street) if p) or None,
        "lat": case.lat,
        "long": case.lon,
    }


def open311_reader(
    request: Request,
    s: DbSession,
    settings: AppSettings,
    authorization: Annotated[str | None, Header()] = None,
    sw_session: Annotated[str | None, Cookie()] = None,
) -> None:
    """Anyone when Open311 is public, otherwise a signed-in viewer or above."""
    if not settings.open311_public:
        role("viewer")(user(request, s, authorization, sw_session))


Reader = Annotated[None, Depends(open311_reader)]


@router.get("/services.json")
def open311_services(_: Reader) -> list[dict[str, Any]]:
    return [
        {"service_code": c.name, "service_name": c.zh, "description": c.description, "metadata": False,
         "type": "realtime", "keywords": c.name, "group": c.category}
        for c in load_taxonomy().classes
    ]  # fmt: skip


@router.get("/requests.json")
def open311_requests(
    s: DbSession,
    _: Reader,
    status: Annotated[str | None, Query(pattern="^(open|closed)$")] = None,
    service_code: str | None = None,
) -> list[dict[str, Any]]:
    query = select(Case).order_by(col(Case.id))
    if service_code:
        query = query.where(Case.class_name == service_code)
    requests = [open311_request(case) for case in s.exec(query).all()]
    return [r for r in requests if status is None or r["status"] == status]
