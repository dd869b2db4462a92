"""What a browser is told and what the disk keeps (issue 19, row 14): security headers on the review UI and the
API, and the server's files readable by its own user only."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

from fastapi.testclient import TestClient

from inference_server.app import create_app
from inference_server.settings import Settings
from testbed.people import add_people
from tests.conftest import REPO_ROOT
from tests.test_outbox import make_sightings


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_ui_and_the_api_carry_a_strict_policy(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(data_dir=tmp_path / "data"))) as http:
        for path in ("/ui/", "/ui/js/app.js", "/api/v1/auth/me", "/healthz"):
            headers = http.get(path).headers
            policy = dict(part.strip().split(" ", 1) for part in headers["content-security-policy"].split(";"))
            assert policy["frame-ancestors"] == "'none'" and policy["script-src"] == "'self'", path
            assert policy["style-src"] == "'self'" and "unsafe" not in headers["content-security-policy"], path
            assert headers["x-content-type-options"] == "nosniff", path
            assert headers["referrer-policy"] == "no-referrer" and headers["x-frame-options"] == "DENY", path


def test_the_ui_needs_no_inline_script_or_style() -> None:
    """What the policy forbids must not be what the UI relies on: no inline script, handler or style."""
    ui = REPO_ROOT / "review_ui"
    page = (ui / "index.html").read_text(encoding="utf-8")
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", page))
    assert "<style" not in page and not re.search(r"\sstyle=|\son[a-z]+=", page)
    for script in ui.rglob("*.js"):
        code = script.read_text(encoding="utf-8")
        assert not re.search(r"innerHTML|setAttribute\(\s*[\"']style|eval\(|new Function", code), script


def test_database_evidence_and_secret_are_private_to_the_server(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    key = add_people(settings, "car-1")
    sighting = make_sightings(tmp_path / "ev", 1)[0]
    files = {k: (f"{k}.jpg", Path(getattr(sighting, k).path).read_bytes(), "image/jpeg") for k in ("frame", "crop")}
    with TestClient(create_app(settings)) as http:
        response = http.post("/api/v1/sightings", data={"metadata": sighting.to_json()}, files=files,
                             headers={"X-API-Key": key, "Idempotency-Key": sighting.sighting_id})  # fmt: skip
        assert response.status_code == 201, response.text
        stored = json.loads(response.text)
    database = settings.data_dir / "streetwatch.db"
    assert _mode(settings.data_dir) == 0o700
    assert _mode(database) == 0o600 and _mode(settings.data_dir / "secret_key") == 0o600
    for sidecar in (settings.data_dir / "streetwatch.db-wal", settings.data_dir / "streetwatch.db-shm"):
        assert not sidecar.exists() or _mode(sidecar) == 0o600
    frame = settings.evidence_dir / stored["frame_sha256"][:2] / f"{stored['frame_sha256']}.jpg"
    assert _mode(frame) == 0o600 and _mode(frame.parent) == 0o700 and _mode(settings.evidence_dir) == 0o700


def test_an_existing_database_file_is_made_private(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir()
    database = settings.data_dir / "streetwatch.db"
    database.touch(mode=0o644)
    database.chmod(0o644)
    create_app(settings)
    assert _mode(database) == 0o600
