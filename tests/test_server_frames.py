"""Raw frames from cameras without their own model: the server's detector makes the sightings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from inference_server.app import create_app
from inference_server.devices import add_device
from inference_server.settings import Settings
from models.registry import DEFAULT_MODEL, model_card
from tests.conftest import REPO_ROOT
from vision.taxonomy import load_taxonomy

SERVED = f"{DEFAULT_MODEL}@{model_card(DEFAULT_MODEL)['version']}"  # what sightings record: name@version

PHOTO = REPO_ROOT / "samples" / "images" / "garbage-cn__000053.jpg"  # bins overflowing by a road


def _post(http: TestClient, key: str, photo: Path, idempotency: str):  # type: ignore[no-untyped-def]
    metadata = json.dumps({"time": 1_795_852_800.0, "lat": 31.2, "lon": 121.4})
    files = {"image": (photo.name, photo.read_bytes(), "image/jpeg")}
    headers = {"X-API-Key": key, "Idempotency-Key": idempotency}
    return http.post("/api/v1/frames", data={"metadata": metadata}, files=files, headers=headers)


@pytest.mark.skipif(
    tuple(model_card(DEFAULT_MODEL)["classes"]) != load_taxonomy().names, reason="the default model is not ours yet"
)
def test_the_server_detects_an_overflowing_bin_in_a_posted_frame(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    key = add_device(settings, "cam-1")
    with TestClient(create_app(settings)) as http:
        first = _post(http, key, PHOTO, "frame-1")
        assert first.status_code == 201, first.text
        sightings = first.json()
        assert "overflowing_bin" in {s["class_name"] for s in sightings}
        assert all(s["frames"] == 1 and s["model"] == SERVED and s["lat"] == 31.2 for s in sightings)
        again = _post(http, key, PHOTO, "frame-1")
        assert [s["id"] for s in again.json()] == [s["id"] for s in sightings]  # a retry creates nothing new


def test_a_frame_with_nothing_of_ours_is_remembered_as_empty(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", model="coco-yolov8n")  # finds people and cars, none of our classes
    key = add_device(settings, "cam-2")
    with TestClient(create_app(settings)) as http:
        assert _post(http, key, PHOTO, "frame-2").json() == []
        assert _post(http, key, PHOTO, "frame-2").json() == []
        bad = http.post(
            "/api/v1/frames",
            data={"metadata": json.dumps({"time": 1.0})},
            files={"image": ("x.jpg", b"nope", "image/jpeg")},
            headers={"X-API-Key": key, "Idempotency-Key": "f3"},
        )
        assert bad.status_code == 422 and "not a decodable image" in bad.text
        assert http.post("/api/v1/frames", headers={"Idempotency-Key": "f4"}).status_code == 401


@pytest.mark.parametrize("keys", [["frame-9", "%"], ["frame-9", "frame_9"], ["a#1", "a"], ["frame-9", "frame-9"]])
def test_a_frame_key_is_matched_exactly_never_as_a_pattern(tmp_path: Path, keys: list[str]) -> None:
    """A key of `%` once went into a SQL LIKE and was answered with another device's frame; keys are per device."""
    from sqlmodel import Session, select

    from inference_server.db import make_engine
    from inference_server.tables import Sighting

    settings = Settings(data_dir=tmp_path / "data", model="coco-yolov8n")  # none of our classes: one `#none` row
    first, second = add_device(settings, "cam-1"), add_device(settings, "cam-2")
    with TestClient(create_app(settings)) as http:
        assert _post(http, first, PHOTO, keys[0]).status_code == 201
        assert _post(http, second, PHOTO, keys[1]).status_code == 201
    with Session(make_engine(settings.url)) as s:
        stored = {(r.idempotency_key, r.device_id) for r in s.exec(select(Sighting)).all()}
    assert stored == {(f"{keys[0]}#none", 1), (f"{keys[1]}#none", 2)}  # the second frame was processed as its own


@pytest.mark.skipif(
    tuple(model_card(DEFAULT_MODEL)["classes"]) != load_taxonomy().names, reason="the default model is not ours yet"
)
def test_an_uploaded_drive_is_inspected_on_the_server(tmp_path: Path) -> None:
    import time

    from datasets.drive import DriveSettings, simulate_drive

    photos = [REPO_ROOT / "samples" / "images" / n for n in ("garbage-cn__000053.jpg", "garbage-cn__001249.jpg")]
    drive = simulate_drive(photos, tmp_path / "drive.mp4", tmp_path / "drive.gpx", DriveSettings(seconds_per_photo=3))
    settings = Settings(data_dir=tmp_path / "data")
    key = add_device(settings, "car-3", "patrol_car")
    with TestClient(create_app(settings)) as http:
        files = {"video": ("drive.mp4", drive.video.read_bytes(), "video/mp4"),
                 "gps": ("drive.gpx", drive.gpx.read_bytes(), "application/gpx+xml")}  # fmt: skip
        metadata = json.dumps({"start_time": drive.start_time})
        headers = {"X-API-Key": key, "Idempotency-Key": "drive-1"}
        queued = http.post("/api/v1/videos", data={"metadata": metadata}, files=files, headers=headers)
        assert queued.status_code == 202, queued.text
        job = queued.json()["job"]
        deadline = time.monotonic() + 120
        while (status := http.get(f"/api/v1/videos/{job}", headers={"X-API-Key": key}).json())["status"] != "done":
            assert status["status"] in ("queued", "running") and time.monotonic() < deadline, status
            time.sleep(0.5)
        assert status["sightings"] >= 2  # bins overflowing in both photos
        again = http.post("/api/v1/videos", data={"metadata": metadata}, files=files, headers=headers)
        assert again.json()["job"] == job  # an upload retried is queued once
        first = http.get("/api/v1/sightings/1", headers={"X-API-Key": key}).json()
        assert first["lat"] is not None and drive.start_time <= first["best_time"] <= drive.start_time + 6


def test_an_upload_that_is_not_a_video_is_refused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    key = add_device(settings, "car-4")
    with TestClient(create_app(settings)) as http:
        bad = http.post(
            "/api/v1/videos",
            data={"metadata": json.dumps({"start_time": 0})},
            files={"video": ("clip.mp4", b"\\x00" * 4000, "video/mp4")},
            headers={"X-API-Key": key, "Idempotency-Key": "v-bad"},
        )
        assert (bad.status_code == 422 and "clip" in bad.text) or "video" in bad.text
