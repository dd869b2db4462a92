"""Schemathesis against the server's own OpenAPI: generated requests (bounded) never get a 5xx, and every response
matches the documented schema. Runs as a device and as an admin, so requests get past authentication too.

By default the run is derandomized (the same requests on every run, no example database), so a failure in CI
fails every time and a green run means the same thing each time. To hunt for new failures, run it random and
longer (docs/server.md, "Fuzzing"):

    STREETWATCH_FUZZ=random STREETWATCH_FUZZ_EXAMPLES=300 .venv/bin/python -m pytest tests/test_server_schema.py

A failure prints the exact request to replay (schemathesis' curl line) and Hypothesis' seed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlmodel import Session

from inference_server.app import add_device, create_app
from inference_server.auth import add_user
from inference_server.db import create_schema, make_engine
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
