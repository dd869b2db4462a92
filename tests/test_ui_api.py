"""The review UI's endpoints (`/api/v1/ui/...`): next with preload and context, undo, batch reject, the case board,
case detail, dispatch with a deadline, dashboard, map and the admin page — and who may call each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from inference_server.review_export import review_records
from tests.test_server_ingest import pg_server, settings  # noqa: F401  (fixtures: SQLite and PostgreSQL)
from tests.test_server_workflow import world  # noqa: F401  (fixture)

UI = "/api/v1/ui"


@pytest.mark.parametrize(
    ("method", "path", "minimum"),
    [
        ("GET", f"{UI}/config", "viewer"),
        ("GET", f"{UI}/review/next", "reviewer"),
        ("POST", f"{UI}/review/undo", "reviewer"),
        ("GET", f"{UI}/cases/board", "viewer"),
        ("GET", f"{UI}/dashboard", "viewer"),
        ("GET", f"{UI}/map", "viewer"),
        ("GET", f"{UI}/areas", "viewer"),
        ("GET", f"{UI}/review/grid", "reviewer"),
        ("GET", f"{UI}/admin/users", "admin"),
    ],
)
def test_every_ui_endpoint_checks_the_role(world, method: str, path: str, minimum: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    http, headers = world
    ranks = ("viewer", "reviewer", "supervisor", "admin")
    for who in ("anonymous", "device", *ranks):
        response = http.request(method, path, headers=headers[who])
        allowed = who in ranks and ranks.index(who) >= ranks.index(minimum)
        if allowed:
            assert response.status_code in (200, 409), (who, path, response.text)
        else:
            assert response.status_code in (401, 403), (who, path, response.status_code)


def test_next_preloads_and_undo_restores_the_sighting_and_removes_its_fresh_case(world) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    http, headers = world
    reviewer = headers["reviewer"]
    first = http.get(f"{UI}/review/next", params={"order": "oldest"}, headers=reviewer).json()
    assert first["pending"] == 3 and len(first["items"]) == 2
    shown, preloaded = first["items"]
    assert shown["idempotency_key"] == "sighting-000" and preloaded["idempotency_key"] == "sighting-001"
    assert shown["context"] == {"cases": [], "earlier": []}
    assert preloaded["context"]["earlier"][0]["id"] == shown["id"]  # 22 m away, seen before it
    skipped = http.get(f"{UI}/review/next", params={"order": "oldest", "exclude": [shown["id"]]}, headers=reviewer)
    assert skipped.json()["items"][0]["id"] == preloaded["id"]
    decided = http.post(f"/api/v1/sightings/{shown['id']}/decision", json={"action": "relabel",
                        "class_name": "exposed_garbage"}, headers=reviewer).json()  # fmt: skip
    case_id = decided["case"]
    near = http.get(f"{UI}/sightings/{preloaded['id']}", headers=reviewer).json()["context"]["cases"]
    assert [(c["id"], c["class_name"], c["distance_m"]) for c in near] == [(case_id, "exposed_garbage", 22.2)]
    undone = http.post(f"{UI}/review/undo", headers=reviewer)
    assert undone.status_code == 200, undone.text
    body = undone.json()
    assert (body["id"], body["status"], body["class_name"], body["case"]) == (
        shown["id"],
        "pending",
        "overflowing_bin",
        None,
    )
    assert http.get(f"/api/v1/cases/{case_id}", headers=headers["viewer"]).status_code == 404
    assert http.post(f"{UI}/review/undo", headers=reviewer).status_code == 409  # nothing left to undo
    with Session(http.app.state.engine) as s:  # an undone decision makes no training label
        assert review_records(s, Path("evidence")) == []
    # a case that moved on keeps its sighting
    case_id = http.post(f"/api/v1/sightings/{shown['id']}/decision", json={"action": "confirm"},
                        headers=reviewer).json()["case"]  # fmt: skip
    moved = http.post(f"{UI}/cases/{case_id}/dispatch", json={"department": "环卫所"}, headers=headers["supervisor"])
    assert moved.status_code == 200, moved.text
    refused = http.post(f"{UI}/review/undo", headers=reviewer)
    assert refused.status_code == 409 and "moved on" in refused.text


def test_batch_reject_board_detail_and_dispatch_deadline(world) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    http, headers = world
    ids = [s["id"] for s in http.get("/api/v1/review/queue", headers=headers["reviewer"]).json()]
    confirmed = http.post(f"/api/v1/sightings/{ids[0]}/decision", json={"action": "confirm"},
                          headers=headers["reviewer"]).json()  # fmt: skip
    batch = http.post(f"{UI}/review/reject", json={"ids": [*ids, 999], "note": "false positives"},
                      headers=headers["reviewer"]).json()  # fmt: skip
    assert batch == {"rejected": ids[1:], "skipped": [ids[0], 999]}
    board = http.get(f"{UI}/cases/board", headers=headers["viewer"]).json()
    assert [(c["state"], c["count"]) for c in board["columns"]][:2] == [("filed", 1), ("dispatched", 0)]
    due = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    dispatched = http.post(f"{UI}/cases/{confirmed['case']}/dispatch", headers=headers["supervisor"],
                           json={"department": "环卫所", "deadline": due.isoformat(), "note": "加急"})  # fmt: skip
    assert dispatched.status_code == 200 and datetime.fromisoformat(dispatched.json()["deadline"]) == due
    detail = http.get(f"{UI}/cases/{confirmed['case']}", headers=headers["viewer"]).json()
    assert [(e["to_state"], e["username"]) for e in detail["events"]] == [("filed", "reviewer"),
                                                                          ("dispatched", "supervisor")]  # fmt: skip
    assert detail["actions"] == [] and len(detail["sightings"]) == 1  # a viewer may look, not act
    as_supervisor = http.get(f"{UI}/cases/{confirmed['case']}", headers=headers["supervisor"]).json()
    assert as_supervisor["actions"] == ["filed", "handling"] and as_supervisor["may_upload"]
    stats = http.get(f"{UI}/dashboard", headers=headers["viewer"]).json()
    assert stats["totals"]["filed"] == 1 and stats["totals"]["reply_rate"] == 1.0
    assert stats["districts"][0]["district"] == "黄浦区" and stats["series"][-1]["filed"] == 1
    points = http.get(f"{UI}/map", params={"status": "rejected"}, headers=headers["viewer"]).json()
    assert len(points["sightings"]) == 2 and len(points["cases"]) == 1
    assert len(http.get(f"{UI}/areas", headers=headers["viewer"]).json()["features"]) == 2
    users = http.get(f"{UI}/admin/users", headers=headers["admin"]).json()
    assert {u["username"]: u["decisions"] for u in users}["reviewer"] == 3
