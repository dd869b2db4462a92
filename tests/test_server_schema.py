"""Schemathesis against the server's own OpenAPI: generated requests (bounded) never get a 5xx, and every response
matches the documented schema. Runs as a device and as an admin, so requests get past authentication too.

By default the run is derandomized (the same requests on every run, no example database), so a failure in CI
fails every time and a green run means the same thing each time. To hunt for new failures, run it random and
longer (docs/server.md, "Fuzzing"):

    STREETWATCH_FUZZ=random STREETWATCH_FUZZ_EXAMPLES=300 .venv/bin/python -m pytest tests/test_server_schema.py

A failure prints the exact request to replay (schemathesis' curl line) and Hypothesis' seed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlmodel import Session

from inference_server.app import create_app
from inference_server.auth import add_user
from inference_server.db import create_schema, make_engine
from inference_server.devices import add_device
from inference_server.settings import Settings

PASSWORD = "correct horse battery"
RANDOM = os.environ.get("STREETWATCH_FUZZ", "derandomized") == "random"
EXAMPLES = int(os.environ.get("STREETWATCH_FUZZ_EXAMPLES", "15"))


def _app_and_headers(tmp: Path) -> tuple[object, dict[str, str]]:
    config = Settings(data_dir=tmp / "data", model="coco-yolov8n")
    device_key = add_device(config, "fuzz-cam")
    engine = make_engine(config.url)
    create_schema(engine)
    with Session(engine) as session:
        add_user(session, "admin", PASSWORD, "admin")
    engine.dispose()
    app = create_app(config)
    with TestClient(app) as http:
        token = http.post("/api/v1/auth/token", data={"username": "admin", "password": PASSWORD}).json()["access_token"]
    return app, {"X-API-Key": device_key, "Authorization": f"Bearer {token}"}


APP, HEADERS = _app_and_headers(Path(__import__("tempfile").mkdtemp(prefix="streetwatch-fuzz-")))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=not RANDOM,
    database=None,
    print_blob=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@pytest.mark.timeout(0 if RANDOM else 300)  # 0: no limit on a long random hunt
def test_the_api_never_errors_and_keeps_its_schema(case) -> None:  # type: ignore[no-untyped-def]
    case.call_and_validate(headers=HEADERS, checks=[not_a_server_error, response_schema_conformance])


# Hostile values schemathesis does not send (its requests stay within JSON): NaN and ±Infinity (Python's json
# writes them, many clients' parsers accept them), numbers past any float or the database's INTEGER, text far past
# every limit, nesting past any parser's stack. Issue 19, rows 9, 10 and 13: each was a 500 or was stored.
HOSTILE = st.one_of(
    st.sampled_from([float("nan"), float("inf"), float("-inf"), 1e308, -1e308, 10**30, -(10**30), 2**63]),
    st.integers(min_value=2**31, max_value=2**80),
    st.builds(lambda n, c: c * n, st.integers(201, 300_000), st.sampled_from(["a", "=", "路", "\x00"])),
    st.builds(lambda n: "[" * n + "]" * n, st.integers(200, 50_000)),
    st.recursive(st.none(), lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner)),
)
SIGHTING = {
    "sighting_id": "fuzz", "class_name": "exposed_garbage", "score": 0.9, "frames": 3, "first_time": 1.8e9,
    "last_time": 1.8e9 + 2, "best_time": 1.8e9 + 1, "box": [10.0, 10.0, 50.0, 40.0],
    "location": {"lat": 31.2, "lon": 121.4, "heading_deg": 90.0}, "frame": {"sha256": "0" * 64},
    "crop": {"sha256": "1" * 64}, "source": "car", "model": "m", "run": "r",
}  # fmt: skip
FIELDS = sorted([*SIGHTING, "location.lat", "location.lon", "location.heading_deg", "box.0", "box.2"])
HUMAN = {k: v for k, v in HEADERS.items() if k == "Authorization"}
DEVICE = {k: v for k, v in HEADERS.items() if k == "X-API-Key"}


def _with(record: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    record = json.loads(json.dumps(record))
    head, _, tail = field.partition(".")
    if tail:
        record[head][int(tail) if tail.isdigit() else tail] = value
    else:
        record[head] = value
    return record


def _refused_as_json(answer: Any) -> None:
    assert answer.status_code < 500, answer.text[:500]
    json.loads(answer.text, parse_constant=lambda c: pytest.fail(f"{c} in a response: not JSON"))


@given(field=st.sampled_from(FIELDS), value=HOSTILE, route=st.sampled_from(["one", "batch", "frame", "run", "fix"]))
@settings(max_examples=EXAMPLES * 4, derandomize=not RANDOM, database=None, deadline=None,
          suppress_health_check=list(HealthCheck))  # fmt: skip
@pytest.mark.timeout(0 if RANDOM else 300)
def test_nan_infinity_huge_and_deep_values_never_make_a_500(field: str, value: Any, route: str) -> None:
    """Every request model's fields get hostile values; the answer is a 4xx (or a 2xx for text that fits) in JSON."""
    record = _with(SIGHTING, field, value)
    with TestClient(APP) as http:  # type: ignore[arg-type]
        if route == "one":
            answer = http.post("/api/v1/sightings", data={"metadata": json.dumps(record)},
                               files={"frame": ("f.jpg", b"x", "image/jpeg"), "crop": ("c.jpg", b"y", "image/jpeg")},
                               headers={**DEVICE, "Idempotency-Key": "fuzz"})  # fmt: skip
        elif route == "batch":
            answer = http.post("/api/v1/sightings/batch", data={"sightings": json.dumps([record])},
                               files={"evidence": ("e.jpg", b"x", "image/jpeg")}, headers=DEVICE)  # fmt: skip
            if answer.status_code == 200:
                assert answer.json()[0]["status"] == 422  # its evidence is missing at least
        elif route == "frame":
            metadata = {"time": value, "lat": 31.2} if field.startswith("s") else {"time": 1.8e9, "lat": value}
            answer = http.post("/api/v1/frames", data={"metadata": json.dumps(metadata)},
                               files={"image": ("f.jpg", b"not a photo", "image/jpeg")},
                               headers={**DEVICE, "Idempotency-Key": "fuzz-frame"})  # fmt: skip
        elif route == "run":
            summary = {"started": 1.8e9, "distance_m": 10.0, "frames_analysed": 3, "source": "car"}
            key = next((k for k in summary if k[0] == field[0]), "distance_m")
            answer = http.put("/api/v1/runs/fuzz", content=json.dumps({**summary, key: value}),
                              headers={**DEVICE, "Content-Type": "application/json"})  # fmt: skip
        else:
            decision = {"action": "fix_box", "box": record["box"] if field.startswith("box") else [0, 0, value, 1]}
            answer = http.post("/api/v1/sightings/1/decision", content=json.dumps(decision),
                               headers={**HUMAN, "Content-Type": "application/json"})  # fmt: skip
    _refused_as_json(answer)
