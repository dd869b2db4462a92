"""Video uploads under attack (issue 19, rows 11 and 12): a refused upload keeps nothing and names no server path;
a GPS track belongs to its upload, not to the video's hash."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from inference_server.app import create_app
from inference_server.db import make_engine
from inference_server.devices import add_device
from inference_server.settings import Settings
from inference_server.tables import VideoJob
from vision.gps import GpsFix
from vision.track_files import write_gpx

START = 1_795_852_800.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[TestClient, Settings, dict[str, str]]]:
    settings = Settings(data_dir=tmp_path / "data", model="coco-yolov8n")
    key = add_device(settings, "car-1", "patrol_car")
    with TestClient(create_app(settings)) as http:
        yield http, settings, {"X-API-Key": key}


def _video(path: Path) -> bytes:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 5.0, (64, 48))
    for i in range(10):
        writer.write(np.full((48, 64, 3), 20 * i, np.uint8))
    writer.release()
    return path.read_bytes()


def _track(path: Path, lat: float) -> bytes:
    write_gpx([GpsFix(START + t, lat + t * 1e-5, 121.4) for t in range(5)], path)
    return path.read_bytes()


def _upload(http: TestClient, device: dict[str, str], key: str, video: bytes, track: bytes | None = None):  # type: ignore[no-untyped-def]
    files = {"video": ("drive.mp4", video, "video/mp4")}
    if track is not None:
        files["gps"] = ("drive.gpx", track, "application/gpx+xml")
    metadata = json.dumps({"start_time": START})
    return http.post(
        "/api/v1/videos", data={"metadata": metadata}, files=files, headers={**device, "Idempotency-Key": key}
    )


def _kept(settings: Settings) -> list[Path]:
    """Files in the videos folder, apart from this process's (empty) scratch area and its lock."""
    folder = settings.data_dir / "videos"
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != ".lock")


def test_random_bytes_as_a_video_are_refused_keep_nothing_and_name_no_path(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    http, settings, device = server
    response = _upload(http, device, "v1", os.urandom(300_000))
    assert response.status_code == 422
    assert "not a video" in response.text
    assert str(tmp_path) not in response.text and "/videos/" not in response.text
    assert _kept(settings) == []


def test_a_broken_track_is_refused_and_a_good_one_for_the_same_video_is_then_accepted(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    http, settings, device = server
    video = _video(tmp_path / "drive.mp4")
    broken = _upload(http, device, "v1", video, b"<gpx><trk><trkseg><trkpt lat='x'")
    assert broken.status_code == 422 and str(tmp_path) not in broken.text
    assert _kept(settings) == []
    first = _upload(http, device, "v2", video, _track(tmp_path / "a.gpx", 31.2))
    second = _upload(http, device, "v3", video, _track(tmp_path / "b.gpx", 31.3))
    assert first.status_code == second.status_code == 202, (first.text, second.text)
    engine = make_engine(settings.url)
    with Session(engine) as s:
        jobs = {job.idempotency_key: job for job in s.exec(select(VideoJob)).all()}
    engine.dispose()
    assert jobs["v2"].video_path == jobs["v3"].video_path  # one video, kept once
    tracks = {key: Path(jobs[key].gps_path or "").read_bytes() for key in ("v2", "v3")}
    assert tracks == {"v2": (tmp_path / "a.gpx").read_bytes(), "v3": (tmp_path / "b.gpx").read_bytes()}


def test_a_failed_job_error_names_files_not_server_paths(tmp_path: Path) -> None:
    from inference_server.videos import public_message
    from vision.errors import StreetWatchError

    video = tmp_path / "data" / "videos" / "abc.mp4"
    error = StreetWatchError(f"{video}: not a video OpenCV/FFmpeg can open; see {video.parent}/track-1.gpx")
    shown = public_message(error, {video: "abc.mp4"})
    assert shown == "abc.mp4: not a video OpenCV/FFmpeg can open; see track-1.gpx" and str(tmp_path) not in shown


def test_a_device_reads_only_its_own_video_jobs_and_sightings(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.test_outbox import make_sightings

    http, settings, device = server
    other = {"X-API-Key": add_device(settings, "car-2", "patrol_car")}
    job = _upload(http, device, "v1", _video(tmp_path / "drive.mp4")).json()["job"]
    sighting = make_sightings(tmp_path / "ev", 1)[0]
    files = {k: (f"{k}.jpg", Path(getattr(sighting, k).path).read_bytes(), "image/jpeg") for k in ("frame", "crop")}
    stored = http.post("/api/v1/sightings", data={"metadata": sighting.to_json()}, files=files,
                       headers={**device, "Idempotency-Key": sighting.sighting_id}).json()  # fmt: skip
    assert http.get(f"/api/v1/videos/{job}", headers=device).status_code == 200
    assert http.get(f"/api/v1/sightings/{stored['id']}", headers=device).status_code == 200
    for path in (f"/api/v1/videos/{job}", f"/api/v1/sightings/{stored['id']}"):
        refused = http.get(path, headers=other)  # the same answer as for an id that does not exist
        assert refused.status_code == 404 and set(refused.json()) == {"detail"}, refused.text


def test_a_video_key_belongs_to_its_device(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    http, settings, device = server
    rogue = {"X-API-Key": add_device(settings, "car-2", "patrol_car")}
    video = _video(tmp_path / "drive.mp4")
    taken = _upload(http, rogue, "v1", video)
    mine = _upload(http, device, "v1", video)
    assert taken.status_code == mine.status_code == 202 and taken.json()["job"] != mine.json()["job"]
    assert http.get(f"/api/v1/videos/{mine.json()['job']}", headers=device).status_code == 200


def test_a_video_whose_frames_are_over_the_configured_pixel_limit_is_refused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", model="coco-yolov8n", max_image_pixels=1000)
    device = {"X-API-Key": add_device(settings, "car-1", "patrol_car")}
    with TestClient(create_app(settings)) as http:
        response = _upload(http, device, "v1", _video(tmp_path / "drive.mp4"))  # 64 x 48 = 3,072 px a frame
    assert response.status_code == 422
    assert "64x48 px frames = 3072 pixels, more than the limit of 1000" in response.text
    assert str(tmp_path) not in response.text and _kept(settings) == []
