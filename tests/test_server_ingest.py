"""Sighting ingest on SQLite and on a real PostgreSQL server: idempotency, evidence checks, limits, auth."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from inference_server import evidence
from inference_server.app import create_app
from inference_server.db import make_engine
from inference_server.devices import add_device
from inference_server.evidence import evidence_path
from inference_server.settings import Settings
from inference_server.tables import PatrolRun, Sighting
from testbed import postgres
from tests.test_images import lying_jpeg
from tests.test_outbox import make_sightings
from tests.ui_world import running_server
from vision.outbox import Outbox, Pending, Sender
from vision.server_client import ServerClient


@pytest.fixture(scope="session")
def pg_server() -> Iterator[postgres.PostgresServer | None]:
    if not postgres.available():
        yield None
        return
    server = postgres.PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path, pg_server) -> Settings:  # type: ignore[no-untyped-def]
    if request.param == "postgresql":
        if pg_server is None:
            pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
        return Settings(data_dir=tmp_path / "data", database_url=pg_server.new_database())
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def client(settings: Settings) -> Iterator[tuple[TestClient, str]]:
    key = add_device(settings, "car-1", "patrol_car")
    with TestClient(create_app(settings)) as test_client:
        yield test_client, key


def _request(
    tmp_path: Path, index: int = 0, **changes: object
) -> tuple[dict[str, str], dict[str, tuple[str, bytes, str]], str]:
    """Headers-free parts of an ingest request built from a real sighting (as the edge outbox sends it)."""
    sighting = make_sightings(tmp_path / "ev", index + 1)[index]
    record = json.loads(sighting.to_json())
    record.update(changes)
    files = {
        "frame": ("frame.jpg", Path(sighting.frame.path).read_bytes(), "image/jpeg"),
        "crop": ("crop.jpg", Path(sighting.crop.path).read_bytes(), "image/jpeg"),
    }
    return {"metadata": json.dumps(record)}, files, sighting.sighting_id


def test_a_sighting_is_stored_once_with_its_evidence(client, settings: Settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    http, key = client
    data, files, sighting_id = _request(tmp_path)
    headers = {"X-API-Key": key, "Idempotency-Key": sighting_id}
    first = http.post("/api/v1/sightings", data=data, files=files, headers=headers)
    assert first.status_code == 201, first.text
    stored = first.json()
    assert stored["class_name"] == "overflowing_bin" and stored["lat"] == 31.2 and stored["status"] == "pending"
    for name in ("frame", "crop"):
        path = evidence_path(settings.evidence_dir, stored[f"{name}_sha256"])
        assert hashlib.sha256(path.read_bytes()).hexdigest() == stored[f"{name}_sha256"]
    again = http.post("/api/v1/sightings", data=data, files=files, headers=headers)
    assert again.status_code == 200 and again.json()["id"] == stored["id"]  # a retry gets the stored record
    other, _, _ = _request(tmp_path, score=0.3)
    conflict = http.post("/api/v1/sightings", data=other, files=files, headers=headers)
    assert conflict.status_code == 409 and "different sighting" in conflict.text
    assert http.get(f"/api/v1/sightings/{stored['id']}", headers={"X-API-Key": key}).json()["id"] == stored["id"]
    assert http.get("/healthz").json() == {"status": "ok", "database": settings.url.split(":")[0].split("+")[0]}


def test_devices_need_a_valid_key(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    http, _ = client
    data, files, _ = _request(tmp_path)
    for headers in ({}, {"X-API-Key": "not-a-key"}):
        response = http.post("/api/v1/sightings", data=data, files=files, headers={**headers, "Idempotency-Key": "k"})
        assert response.status_code == 401
    assert http.get("/api/v1/sightings/1").status_code == 401


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"class_name": "parking"}, 422, "unknown class"),
        ({"location": {"lat": 91.0, "lon": 10.0}}, 422, "less than or equal to 90"),
        ({"score": 1.5}, 422, "less than or equal to 1"),
        ({"frame": {"path": "x", "sha256": "0" * 64}}, 422, "does not match"),
    ],
)
def test_bad_metadata_is_refused_and_nothing_is_stored(
    client, settings: Settings, tmp_path: Path, change, status, message
) -> None:  # type: ignore[no-untyped-def]
    http, key = client
    data, files, sighting_id = _request(tmp_path, **change)
    response = http.post(
        "/api/v1/sightings", data=data, files=files, headers={"X-API-Key": key, "Idempotency-Key": sighting_id}
    )
    assert response.status_code == status and message in response.text, response.text
    assert not any(settings.evidence_dir.rglob("*.jpg"))


def test_evidence_that_is_not_a_photo_or_a_bomb_is_refused(client, settings: Settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    http, key = client
    headers = {"X-API-Key": key, "Idempotency-Key": "x1"}
    text_file = b"not an image at all"
    bomb = cv2.imencode(".png", np.zeros((8000, 8000), np.uint8))[1].tobytes()  # 64 Mpx, tiny file
    lying = lying_jpeg(20000, 20000)  # a junk byte before its frame header once hid the size from the check
    for name, payload in (("frame", text_file), ("frame", bomb), ("frame", lying), ("crop", lying)):
        data, files, _ = _request(tmp_path)
        record = json.loads(data["metadata"])
        record[name]["sha256"] = hashlib.sha256(payload).hexdigest()
        files[name] = ("frame.png", payload, "image/png")
        response = http.post("/api/v1/sightings", data={"metadata": json.dumps(record)}, files=files, headers=headers)
        assert response.status_code == 422, response.text
        if payload is lying:
            assert "20000x20000 px = 400000000 pixels is more than the limit" in response.text
    assert "not a decodable image" in text_file_response(http, headers, tmp_path, text_file)
    huge = http.post("/api/v1/sightings", content=b"x" * (settings.max_upload_bytes + 1),
                     headers={**headers, "Content-Type": "application/octet-stream"})  # fmt: skip
    assert huge.status_code == 413
    assert not any(settings.evidence_dir.rglob("*.jpg"))


def text_file_response(http: TestClient, headers: dict[str, str], tmp_path: Path, payload: bytes) -> str:
    data, files, _ = _request(tmp_path)
    record = json.loads(data["metadata"])
    record["frame"]["sha256"] = hashlib.sha256(payload).hexdigest()
    files["frame"] = ("frame.jpg", payload, "image/jpeg")
    return http.post("/api/v1/sightings", data={"metadata": json.dumps(record)}, files=files, headers=headers).text


def test_the_edge_outbox_delivers_to_the_real_server_exactly_once(settings: Settings, tmp_path: Path) -> None:
    key = add_device(settings, "camera-7")
    with running_server(settings) as base:
        outbox = Outbox(tmp_path / "outbox.db")
        for sighting in make_sightings(tmp_path / "ev", 12):
            outbox.put(sighting)
        sender = Sender(tmp_path / "outbox.db", ServerClient(base, key))
        assert sender.send_pending() == 12
        (first,) = outbox.pending(1) or [None]
        assert first is None and outbox.counts()["sent"] == 12
        replay = Sender(tmp_path / "outbox.db", sender.server)
        item = Pending("sighting-000", *_outbox_row(tmp_path / "outbox.db", "sighting-000"))
        assert replay._post(item) == "sent"  # a replay of an answered request: 200, the stored record
    with TestClient(create_app(settings)) as http:
        ids = [http.get(f"/api/v1/sightings/{i}", headers={"X-API-Key": key}).status_code for i in range(1, 14)]
    assert ids == [200] * 12 + [404]


def _outbox_row(db: Path, key: str) -> tuple[bytes, bytes, bytes]:
    import sqlite3

    with sqlite3.connect(db) as conn:
        payload, frame, crop = conn.execute("SELECT payload, frame, crop FROM outbox WHERE key = ?", (key,)).fetchone()
    return payload.encode(), frame, crop


def test_a_batch_stores_each_sighting_once_and_answers_for_each(client, settings: Settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    http, key = client
    sightings = make_sightings(tmp_path / "ev", 4)
    records = [json.loads(s.to_json()) for s in sightings]
    evidence = {}
    for s in sightings:
        for part in (s.frame, s.crop):
            evidence[part.sha256] = Path(part.path).read_bytes()
    files = [("evidence", (f"{sha}.jpg", data, "image/jpeg")) for sha, data in evidence.items()]
    # the first one arrived alone earlier (the edge retries it inside a batch after a lost answer)
    alone, alone_files, first_id = _request(tmp_path)
    assert http.post("/api/v1/sightings", data=alone, files=alone_files,
                     headers={"X-API-Key": key, "Idempotency-Key": first_id}).status_code == 201  # fmt: skip
    bad = {**records[3], "sighting_id": "bad-evidence", "crop": {"sha256": "0" * 64}}
    reused = {**records[2], "score": 0.11}  # same key as records[2], different content
    body = {"sightings": json.dumps([records[0], records[1], records[2], bad, reused, {"class_name": "parking"}])}
    response = http.post("/api/v1/sightings/batch", data=body, files=files, headers={"X-API-Key": key})
    assert response.status_code == 200, response.text
    answers = response.json()
    assert [a["status"] for a in answers] == [200, 201, 201, 422, 422, 422]
    assert "no evidence file" in answers[3]["error"] and "twice in the batch" in answers[4]["error"]
    assert answers[1]["sighting"]["idempotency_key"] == records[1]["sighting_id"]
    again = http.post("/api/v1/sightings/batch", data={"sightings": json.dumps([records[1], reused])}, files=files,
                      headers={"X-API-Key": key}).json()  # fmt: skip
    assert [a["status"] for a in again] == [200, 409]
    assert again[0]["sighting"]["id"] == answers[1]["sighting"]["id"]
    # exactly the accepted ones exist, each with its evidence on disk
    engine = make_engine(settings.url)
    with Session(engine) as s:
        keys = sorted(row.idempotency_key for row in s.exec(select(Sighting)))
    engine.dispose()
    assert keys == sorted(r["sighting_id"] for r in records[:3])
    for answer in answers[:3]:
        for name in ("frame", "crop"):
            assert evidence_path(settings.evidence_dir, answer["sighting"][f"{name}_sha256"]).is_file()
    assert http.post("/api/v1/sightings/batch", data={"sightings": "[]"}, files=files,
                     headers={"X-API-Key": key}).status_code == 422  # fmt: skip
    assert http.post("/api/v1/sightings/batch", data=body, files=files).status_code == 401


def test_sightings_count_into_their_patrol_run_and_the_device_reports_its_summary(
    client, settings: Settings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    http, key = client
    sightings = make_sightings(tmp_path / "ev", 3)
    records = [{**json.loads(s.to_json()), "run": "drive-0712@1790000000"} for s in sightings]
    alone = records[0]
    files = {k: (f"{k}.jpg", Path(getattr(sightings[0], k).path).read_bytes(), "image/jpeg") for k in ("frame", "crop")}
    first = http.post("/api/v1/sightings", data={"metadata": json.dumps(alone)}, files=files,
                      headers={"X-API-Key": key, "Idempotency-Key": alone["sighting_id"]})  # fmt: skip
    assert first.status_code == 201 and first.json()["run_id"] is not None
    evidence = [("evidence", (f"{i}.jpg", Path(p.path).read_bytes(), "image/jpeg"))
                for i, s in enumerate(sightings[1:]) for p in (s.frame, s.crop)]  # fmt: skip
    batch = http.post("/api/v1/sightings/batch", data={"sightings": json.dumps(records[1:] + records[:1])},
                      files=evidence, headers={"X-API-Key": key}).json()  # fmt: skip
    assert [a["status"] for a in batch] == [201, 201, 200]  # the repeat does not count twice
    assert {a["sighting"]["run_id"] for a in batch} == {first.json()["run_id"]}
    summary = {"started": 1_790_000_000.0, "ended": 1_790_000_600.0, "distance_m": 4210.5, "frames_analysed": 3000}
    reported = http.put("/api/v1/runs/drive-0712@1790000000", json=summary, headers={"X-API-Key": key})
    assert reported.status_code == 200, reported.text
    assert http.put("/api/v1/runs/x", json={"distance_m": -1}, headers={"X-API-Key": key}).status_code == 422
    # a count no INTEGER column holds (the fuzzer's 500: 2**63 overflowed SQLite, 2**31 overflows PostgreSQL)
    for frames, status in ((2**31 - 1, 200), (2**31, 422), (2**64, 422)):
        answer = http.put("/api/v1/runs/big", json={"frames_analysed": frames}, headers={"X-API-Key": key})
        assert answer.status_code == status, (frames, answer.text)
    assert http.put("/api/v1/runs/x", json=summary).status_code == 401
    engine = make_engine(settings.url)
    with Session(engine) as s:
        run = s.exec(select(PatrolRun).where(PatrolRun.key == "drive-0712@1790000000")).one()
    engine.dispose()
    times = [r["best_time"] for r in records]
    assert run.sightings == 3 and run.first_time == min(times) and run.last_time == max(times)
    assert run.distance_m == 4210.5 and run.frames_analysed == 3000 and run.key == "drive-0712@1790000000"


def test_a_starting_worker_sweeps_only_what_dead_writers_left(tmp_path: Path) -> None:
    """`serve --workers N`: a worker starting late must not delete a sibling's half-written files."""
    import subprocess
    import sys

    from inference_server.evidence import sweep_incoming

    root = tmp_path / "evidence"
    writer = (
        "import sys, time; from pathlib import Path; from inference_server.evidence import _area\n"
        "(_area(Path(sys.argv[1])) / 'half-written').write_bytes(b'x'); print('ready', flush=True); time.sleep(60)"
    )
    sibling = subprocess.Popen([sys.executable, "-c", writer, str(root)], stdout=subprocess.PIPE, text=True)
    try:
        assert sibling.stdout is not None and sibling.stdout.readline().strip() == "ready"
        (root / "ab").mkdir(parents=True)
        (root / "ab" / ".incoming-old").write_bytes(b"y")  # the older layout's leftover
        assert sweep_incoming(root) == 1  # only the old leftover: the sibling is alive and holds its lock
        assert len(list(root.glob(".incoming/*/half-written"))) == 1
    finally:
        sibling.kill()
        sibling.wait(10)
    assert sweep_incoming(root) == 1  # now its process is gone: what it left is swept
    assert not list(root.glob(".incoming/*"))


def test_a_batch_that_loses_a_race_on_a_key_still_answers_for_every_sighting(
    client, settings: Settings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    import sqlalchemy

    from inference_server.ingest import canonical_digest

    http, key = client
    sightings = make_sightings(tmp_path / "ev", 3)
    records = [json.loads(s.to_json()) for s in sightings]
    evidence = [("evidence", (f"{i}.jpg", Path(p.path).read_bytes(), "image/jpeg"))
                for i, s in enumerate(sightings) for p in (s.frame, s.crop)]  # fmt: skip
    bad = {**records[2], "sighting_id": "no-evidence", "crop": {"sha256": "0" * 64}}
    engine = make_engine(settings.url)
    raced = []

    def another_request_stores_the_first_one(session: Session) -> None:
        if raced:
            return
        raced.append(True)  # a concurrent request commits records[0] between our lookup and our commit
        first = records[0]
        with Session(engine) as other:
            other.add(Sighting(
                idempotency_key=first["sighting_id"], metadata_sha256=canonical_digest(first), device_id=1,
                class_name=first["class_name"], score=first["score"], frames=first["frames"],
                first_time=first["first_time"], last_time=first["last_time"], best_time=first["best_time"],
                box=first["box"], frame_sha256=first["frame"]["sha256"], crop_sha256=first["crop"]["sha256"],
            ))  # fmt: skip
            other.commit()

    sqlalchemy.event.listen(Session, "before_commit", another_request_stores_the_first_one)
    try:
        response = http.post("/api/v1/sightings/batch", data={"sightings": json.dumps([bad, *records[:2]])},
                             files=evidence, headers={"X-API-Key": key})  # fmt: skip
    finally:
        sqlalchemy.event.remove(Session, "before_commit", another_request_stores_the_first_one)
    assert raced and response.status_code == 200, response.text
    answers = response.json()
    assert [(a["key"], a["status"]) for a in answers] == [
        ("no-evidence", 422),
        (records[0]["sighting_id"], 200),
        (records[1]["sighting_id"], 201),
    ]
    with Session(engine) as s:
        assert sorted(row.idempotency_key for row in s.exec(select(Sighting))) == sorted(
            r["sighting_id"] for r in records[:2]
        )
    engine.dispose()


def test_idempotency_keys_belong_to_their_device(settings: Settings, tmp_path: Path) -> None:
    """A device that sends another's key first gets its own record; the other's later send is stored, not a 409
    (which the edge outbox takes as a permanent refusal: a silent loss)."""
    first, second = add_device(settings, "car-1", "patrol_car"), add_device(settings, "car-2", "patrol_car")
    alone, files, key = _request(tmp_path, 0)
    batched, batch_files, batch_key = _request(tmp_path, 1)
    with TestClient(create_app(settings)) as http:
        ids = {}
        for device in (second, first):  # the rogue one first
            one = http.post("/api/v1/sightings", data=alone, files=files,
                            headers={"X-API-Key": device, "Idempotency-Key": key})  # fmt: skip
            batch = http.post("/api/v1/sightings/batch", data={"sightings": f"[{batched['metadata']}]"},
                              files=[("evidence", part) for part in batch_files.values()],
                              headers={"X-API-Key": device})  # fmt: skip
            assert one.status_code == 201 and [a["status"] for a in batch.json()] == [201], (one.text, batch.text)
            ids[device] = (one.json()["id"], batch.json()[0]["sighting"]["id"])
        assert set(ids[first]).isdisjoint(ids[second])
    engine = make_engine(settings.url)
    with Session(engine) as s:
        rows = sorted((row.device_id, row.idempotency_key) for row in s.exec(select(Sighting)))
    engine.dispose()
    assert rows == sorted([(1, key), (1, batch_key), (2, key), (2, batch_key)])


def test_an_evidence_part_over_its_limit_is_refused_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 19, row 2: a file part over `max_evidence_bytes` is refused by its spooled size, never read into
    memory, alone or in a batch; the batch's other sightings are stored."""
    small, big = make_sightings(tmp_path / "ev", 2)
    limit = max(Path(p.path).stat().st_size for p in (small.frame, small.crop)) + 1
    settings = Settings(data_dir=tmp_path / "data", max_evidence_bytes=limit)
    key = add_device(settings, "car-1", "patrol_car")
    oversized = cv2.imencode(".png", np.random.default_rng(0).integers(0, 255, (200, 200, 3), np.uint8))[1].tobytes()
    assert len(oversized) > limit
    read_sizes: list[int] = []
    original = evidence.Part.read
    monkeypatch.setattr(evidence.Part, "read", lambda self: read_sizes.append(self.size) or original(self))
    record = {**json.loads(big.to_json()), "frame": {"sha256": hashlib.sha256(oversized).hexdigest()}}
    crop = Path(big.crop.path).read_bytes()
    with TestClient(create_app(settings)) as http:
        alone = http.post("/api/v1/sightings", data={"metadata": json.dumps(record)},
                          files={"frame": ("f.png", oversized, "image/png"), "crop": ("c.jpg", crop, "image/jpeg")},
                          headers={"X-API-Key": key, "Idempotency-Key": "alone"})  # fmt: skip
        assert alone.status_code == 422 and "larger than the limit" in alone.text, alone.text
        parts = (oversized, crop, Path(small.frame.path).read_bytes(), Path(small.crop.path).read_bytes())
        files = [("evidence", ("x", data, "image/jpeg")) for data in parts]
        body = {"sightings": json.dumps([record, json.loads(small.to_json())])}
        answers = http.post("/api/v1/sightings/batch", data=body, files=files, headers={"X-API-Key": key}).json()
    assert [a["status"] for a in answers] == [422, 201], answers
    assert "frame: " in answers[0]["error"] and "larger than the limit" in answers[0]["error"]
    assert read_sizes and max(read_sizes) <= limit  # only parts within the limit were ever read
