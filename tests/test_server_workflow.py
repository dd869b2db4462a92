"""Review, cases and who may do what — on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from inference_server.app import create_app
from inference_server.auth import ROLES
from inference_server.settings import Settings
from testbed.people import PASSWORD, add_people
from tests.conftest import REPO_ROOT
from tests.test_outbox import make_sightings
from tests.test_server_ingest import pg_server, settings  # noqa: F401  (fixtures: SQLite and PostgreSQL)

DISTRICTS = {
    "type": "FeatureCollection",
    "features": [
        {"type": "Feature", "properties": {"district": "黄浦区", "street": "南京东路街道"},
         "geometry": {"type": "Polygon", "coordinates": [[[121.39, 31.19], [121.41, 31.19], [121.41, 31.2001],
                                                          [121.39, 31.2001], [121.39, 31.19]]]}},
        {"type": "Feature", "properties": {"district": "静安区", "street": "静安寺街道"},
         "geometry": {"type": "Polygon", "coordinates": [[[121.39, 31.2001], [121.41, 31.2001], [121.41, 31.21],
                                                          [121.39, 31.21], [121.39, 31.2001]]]}},
    ],
}  # fmt: skip


@pytest.fixture
def world(settings: Settings, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:  # noqa: F811
    """A server with one user per role, one device, two districts, and three sightings from that device."""
    (tmp_path / "districts.geojson").write_text(json.dumps(DISTRICTS, ensure_ascii=False))
    settings = settings.model_copy(update={"districts": tmp_path / "districts.geojson"})
    key = add_people(settings, "car-9")
    with TestClient(create_app(settings)) as http:
        headers: dict[str, dict[str, str]] = {
            "anonymous": {},
            "device": {"X-API-Key": key},
            "wrong device": {"X-API-Key": "x" * 43},
        }
        for role in ROLES:
            token = http.post("/api/v1/auth/token", data={"username": role, "password": PASSWORD}).json()[
                "access_token"
            ]
            headers[role] = {"Authorization": f"Bearer {token}"}
        for i, sighting in enumerate(make_sightings(tmp_path / "ev", 3)):
            record = json.loads(sighting.to_json())
            record["location"] = {"lat": 31.2 + i * 0.0002, "lon": 121.4, "heading_deg": 90.0}  # 0 m, 22 m, 44 m apart
            files = {
                k: (f"{k}.jpg", Path(getattr(sighting, k).path).read_bytes(), "image/jpeg") for k in ("frame", "crop")
            }
            response = http.post("/api/v1/sightings", data={"metadata": json.dumps(record)}, files=files,
                                 headers={**headers["device"], "Idempotency-Key": sighting.sighting_id})  # fmt: skip
            assert response.status_code == 201, response.text
        yield http, headers


def test_review_files_cases_and_the_workflow_keeps_a_trail(world) -> None:  # type: ignore[no-untyped-def]
    http, headers = world
    queue = http.get("/api/v1/review/queue", headers=headers["reviewer"], params={"order": "oldest"}).json()
    assert [s["idempotency_key"] for s in queue] == ["sighting-000", "sighting-001", "sighting-002"]
    first = http.post(
        f"/api/v1/sightings/{queue[0]['id']}/decision", json={"action": "confirm"}, headers=headers["reviewer"]
    )
    assert first.status_code == 200 and first.json()["status"] == "confirmed"
    case_id = first.json()["case"]
    # 22 m away, same class: it joins the open case (within 50 m)
    second = http.post(f"/api/v1/sightings/{queue[1]['id']}/decision", json={"action": "fix_box", "box": [0, 0, 9, 9]},
                       headers=headers["reviewer"])  # fmt: skip
    assert second.json()["case"] == case_id
    rejected = http.post(f"/api/v1/sightings/{queue[2]['id']}/decision", json={"action": "reject", "note": "a shadow"},
                         headers=headers["reviewer"])  # fmt: skip
    assert rejected.json() == {"sighting": queue[2]["id"], "status": "rejected", "case": None}
    again = http.post(
        f"/api/v1/sightings/{queue[0]['id']}/decision", json={"action": "reject"}, headers=headers["reviewer"]
    )
    assert again.status_code == 409
    assert http.get("/api/v1/review/queue", headers=headers["reviewer"]).json() == []
    supervisor = headers["supervisor"]
    wrong = http.post(f"/api/v1/cases/{case_id}/transition", json={"to": "closed"}, headers=supervisor)
    assert wrong.status_code == 409 and "it can go to dispatched, rejected, not closed" in wrong.text
    no_department = http.post(f"/api/v1/cases/{case_id}/transition", json={"to": "dispatched"}, headers=supervisor)
    assert no_department.status_code == 409 and "department" in no_department.text
    for to, extra in (("dispatched", {"department": "环卫所"}), ("handling", {}), ("verifying", {})):
        response = http.post(f"/api/v1/cases/{case_id}/transition", json={"to": to, **extra}, headers=supervisor)
        assert response.status_code == 200, response.text
    photo = (REPO_ROOT / "samples" / "images" / "garbage-cn__001249.jpg").read_bytes()  # the cleaned-up spot
    uploaded = http.post(
        f"/api/v1/cases/{case_id}/photos",
        files={"photo": ("after.jpg", photo, "image/jpeg")},
        data={"note": "整改后"},
        headers=supervisor,
    )
    assert uploaded.status_code == 201, uploaded.text
    assert http.get(f"/api/v1/evidence/{uploaded.json()['sha256']}", headers=headers["viewer"]).content == photo
    closing = {"to": "closed", "note": "清运完毕", "satisfaction": 5}
    closed = http.post(f"/api/v1/cases/{case_id}/transition", json=closing, headers=supervisor)
    assert closed.status_code == 200, closed.text
    case = http.get(f"/api/v1/cases/{case_id}", headers=headers["viewer"]).json()
    assert case["state_zh"] == "结案" and case["case"]["department"] == "环卫所" and len(case["sightings"]) == 2
    assert case["case"]["satisfaction"] == 5 and [p["note"] for p in case["photos"]] == ["整改后"]
    trail = [(e["from_state"], e["to_state"]) for e in case["events"]]
    assert trail == [(None, "filed"), ("filed", "dispatched"), ("dispatched", "handling"), ("handling", "verifying"),
                     ("verifying", "verifying"), ("verifying", "closed")]  # fmt: skip
    assert all(e["user_id"] for e in case["events"]) and case["events"][-1]["note"] == "清运完毕"


ENDPOINTS = [
    # method, path, body, who may call it (principals; "anyone" includes the anonymous)
    ("GET", "/healthz", None, "anyone"),
    ("POST", "/api/v1/sightings", None, {"device"}),
    ("GET", "/api/v1/sightings/1", None, {"device"}),
    ("GET", "/api/v1/review/queue", None, {"reviewer", "supervisor", "admin"}),
    ("POST", "/api/v1/sightings/1/decision", {"action": "confirm"}, {"reviewer", "supervisor", "admin"}),
    ("GET", "/api/v1/cases", None, {"viewer", "reviewer", "supervisor", "admin"}),
    ("GET", "/api/v1/cases/1", None, {"viewer", "reviewer", "supervisor", "admin"}),
    ("POST", "/api/v1/cases/1/transition", {"to": "rejected"}, {"supervisor", "admin"}),
    ("GET", "/api/v1/exports/cases.csv", None, {"viewer", "reviewer", "supervisor", "admin"}),
    ("GET", "/api/v1/exports/sightings.geojson", None, {"viewer", "reviewer", "supervisor", "admin"}),
    ("GET", "/open311/v2/services.json", None, {"viewer", "reviewer", "supervisor", "admin"}),
    ("GET", "/open311/v2/requests.json", None, {"viewer", "reviewer", "supervisor", "admin"}),
    ("GET", "/metrics", None, "anyone"),
    ("POST", "/api/v1/cases/1/photos", None, {"supervisor", "admin"}),
    ("GET", "/api/v1/evidence/" + "0" * 64, None, {"viewer", "reviewer", "supervisor", "admin"}),
    ("POST", "/api/v1/sightings/batch", None, {"device"}),
    ("POST", "/api/v1/frames", None, {"device"}),
    ("POST", "/api/v1/videos", None, {"device"}),
    ("GET", "/api/v1/videos/1", None, {"device"}),
    ("PUT", "/api/v1/runs/drive-1", {"distance_m": 10.0}, {"device"}),
    ("GET", "/api/v1/runs", None, {"viewer", "reviewer", "supervisor", "admin"}),
    ("GET", "/api/v1/runs/1", None, {"viewer", "reviewer", "supervisor", "admin"}),
    ("GET", "/api/v1/models/current", None, {"device"}),
    ("GET", "/api/v1/models/streetwatch-starter@0.2.0/files/model.int8.onnx", None, {"device"}),
    ("GET", "/api/v1/models", None, {"viewer", "reviewer", "supervisor", "admin"}),
    # the review UI (its /api/v1/ui/... routes in inference_server/routes/) and its front-end
    ("GET", "/", None, "anyone"),
    ("GET", "/api/v1/ui/config", None, {"viewer", "reviewer", "supervisor", "admin"}),
    ("GET", "/api/v1/ui/review/next", None, {"reviewer", "supervisor", "admin"}),
    ("GET", "/api/v1/ui/review/grid", None, {"reviewer", "supervisor", "admin"}),
    ("POST", "/api/v1/ui/review/undo", None, {"reviewer", "supervisor", "admin"}),
    ("POST", "/api/v1/ui/review/reject", {"ids": [999]}, {"reviewer", "supervisor", "admin"}),
    ("GET", "/api/v1/ui/sightings/1", None, {"viewer", "reviewer", "supervisor", "admin"}),
    ("GET", "/api/v1/ui/cases/board", None, {"viewer", "reviewer", "supervisor", "admin"}),
    ("GET", "/api/v1/ui/cases/1", None, {"viewer", "reviewer", "supervisor", "admin"}),
    ("POST", "/api/v1/ui/cases/1/dispatch", {"department": "环卫所"}, {"supervisor", "admin"}),
    ("GET", "/api/v1/ui/dashboard", None, {"viewer", "reviewer", "supervisor", "admin"}),
    ("GET", "/api/v1/ui/map", None, {"viewer", "reviewer", "supervisor", "admin"}),
    ("GET", "/api/v1/ui/areas", None, {"viewer", "reviewer", "supervisor", "admin"}),
    ("GET", "/api/v1/ui/admin/users", None, {"admin"}),
    ("POST", "/api/v1/auth/token", None, "anyone"),
    ("POST", "/api/v1/auth/session", None, "anyone"),
    ("GET", "/api/v1/auth/me", None, {"viewer", "reviewer", "supervisor", "admin"}),
    ("DELETE", "/api/v1/auth/session", None, {"viewer", "reviewer", "supervisor", "admin"}),  # last: it signs out
]
# served to anyone on purpose: the API's own description
PUBLIC_DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
PRINCIPALS = ("anonymous", "viewer", "reviewer", "supervisor", "admin", "device", "wrong device")


def test_authorization_matrix(world) -> None:  # type: ignore[no-untyped-def]
    http, headers = world
    denied_statuses = {401, 403}
    for method, path, body, allowed in ENDPOINTS:
        for principal in PRINCIPALS:
            response = http.request(method, path, json=body, headers=headers[principal])
            may = allowed == "anyone" or principal in allowed
            if may:
                assert response.status_code not in denied_statuses, (method, path, principal, response.text)
            else:
                assert response.status_code in denied_statuses, (method, path, principal, response.status_code)


def test_the_matrix_covers_every_endpoint_the_app_serves(world) -> None:  # type: ignore[no-untyped-def]
    http, _ = world
    from fastapi.routing import APIRoute

    missing = []
    for route in http.app.routes:
        if not isinstance(route, APIRoute) or route.path in PUBLIC_DOCS:
            continue
        for method in route.methods:
            if not any(m == method and route.path_regex.match(path) for m, path, _, _ in ENDPOINTS):
                missing.append(f"{method} {route.path}")
    assert not missing, f"add these to ENDPOINTS with who may call them: {missing}"


def test_sign_in_is_rate_limited_and_says_nothing_about_who_exists(world) -> None:  # type: ignore[no-untyped-def]
    http, _ = world
    unknown = http.post("/api/v1/auth/token", data={"username": "nobody", "password": "whatever1"})
    wrong = http.post("/api/v1/auth/token", data={"username": "admin", "password": "whatever1"})
    assert unknown.status_code == wrong.status_code == 401 and unknown.json() == wrong.json()
    statuses = [
        http.post("/api/v1/auth/token", data={"username": "admin", "password": "nope-nope"}).status_code
        for _ in range(6)
    ]
    assert statuses[:3] == [401] * 3 and statuses[-1] == 429
    assert http.post("/api/v1/auth/token", data={"username": "admin", "password": PASSWORD}).status_code == 429


def test_districts_exports_open311_and_metrics(world) -> None:  # type: ignore[no-untyped-def]
    http, headers = world
    queue = http.get("/api/v1/review/queue", headers=headers["reviewer"], params={"order": "oldest"}).json()
    assert [(s["district"], s["street"]) for s in queue] == [
        ("黄浦区", "南京东路街道"),
        ("静安区", "静安寺街道"),
        ("静安区", "静安寺街道"),
    ]
    only = http.get("/api/v1/review/queue", headers=headers["reviewer"], params={"district": "黄浦区"}).json()
    assert [s["id"] for s in only] == [queue[0]["id"]]
    http.post(f"/api/v1/sightings/{queue[0]['id']}/decision", json={"action": "confirm"}, headers=headers["reviewer"])
    csv_text = http.get("/api/v1/exports/cases.csv", headers=headers["viewer"]).text
    header, row = csv_text.splitlines()[:2]
    assert header.startswith("id,class_name,state") and "黄浦区" in row
    geo = http.get("/api/v1/exports/sightings.geojson", headers=headers["viewer"]).json()
    assert geo["type"] == "FeatureCollection" and len(geo["features"]) == 3
    assert geo["features"][0]["geometry"] == {"type": "Point", "coordinates": [121.4, 31.2]}
    services = http.get("/open311/v2/services.json", headers=headers["viewer"]).json()
    assert [s["service_code"] for s in services][:2] == ["illegal_ad", "overflowing_bin"] and services[1][
        "service_name"
    ] == "垃圾桶满溢"
    (request,) = http.get("/open311/v2/requests.json", headers=headers["viewer"], params={"status": "open"}).json()
    assert (
        request["service_code"] == "overflowing_bin"
        and request["address"] == "黄浦区 南京东路街道"
        and request["lat"] == 31.2
    )
    assert http.get("/open311/v2/requests.json", headers=headers["viewer"], params={"status": "closed"}).json() == []
    metrics = http.get("/metrics").text
    assert 'streetwatch_sightings_ingested_total{class_name="overflowing_bin"} 3.0' in metrics
    assert "streetwatch_review_queue_length 2.0" in metrics


def test_browser_sessions_use_an_httponly_cookie_and_need_the_csrf_token_for_changes(world) -> None:  # type: ignore[no-untyped-def]
    http, headers = world
    pending = http.get("/api/v1/review/queue", headers=headers["reviewer"]).json()
    http.cookies.clear()
    signed = http.post("/api/v1/auth/session", data={"username": "reviewer", "password": PASSWORD})
    assert signed.status_code == 200, signed.text
    cookies = signed.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith("sw_session="))
    assert "HttpOnly" in session_cookie and "SameSite=strict" in session_cookie
    csrf = signed.json()["csrf_token"]
    assert signed.json()["role"] == "reviewer"
    assert http.get("/api/v1/auth/me").json()["username"] == "reviewer"  # the cookie alone reads
    decide = f"/api/v1/sightings/{pending[0]['id']}/decision"
    refused = http.post(decide, json={"action": "reject"})  # a forged cross-site form would look like this
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["detail"]
    assert http.post(decide, json={"action": "reject"}, headers={"X-CSRF-Token": "0" * 64}).status_code == 403
    assert http.get(f"/api/v1/sightings/{pending[0]['id']}", headers=headers["device"]).json()["status"] == "pending"
    done = http.post(decide, json={"action": "reject"}, headers={"X-CSRF-Token": csrf})
    assert done.status_code == 200 and done.json()["status"] == "rejected"
    # a session's CSRF token is bound to it: another user's token does not pass
    other = TestClient(http.app)
    other_csrf = other.post("/api/v1/auth/session", data={"username": "viewer", "password": PASSWORD}).json()
    decide2 = f"/api/v1/sightings/{pending[1]['id']}/decision"
    assert (
        http.post(decide2, json={"action": "reject"}, headers={"X-CSRF-Token": other_csrf["csrf_token"]}).status_code
        == 403
    )
    # signing out ends the session on the server, not only in the browser
    stolen = http.cookies.get("sw_session")
    assert http.delete("/api/v1/auth/session", headers={"X-CSRF-Token": csrf}).status_code == 204
    replay = TestClient(http.app, cookies={"sw_session": stolen})  # the stolen cookie, sent after sign-out
    assert replay.get("/api/v1/auth/me").status_code == 401
