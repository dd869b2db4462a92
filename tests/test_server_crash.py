"""Crash test: 2,000 sightings posted concurrently, the server killed with -9 mid-stream and restarted, the client
retrying with the same idempotency keys: exactly 2,000 sightings and their evidence, every hash verifying, no
orphan files — on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2
import pytest
from sqlmodel import Session, select

from inference_server.db import make_engine
from inference_server.devices import add_device
from inference_server.evidence import evidence_path
from inference_server.settings import Settings
from inference_server.tables import Sighting
from testbed.net import free_port
from testbed.sightings import sightings
from tests.conftest import REPO_ROOT
from tests.test_server_ingest import pg_server, settings  # noqa: F401  (fixtures: SQLite and PostgreSQL)

COUNT = 2000


def _payloads(count: int) -> list[tuple[str, dict[str, str], dict[str, tuple[str, bytes, str]]]]:
    """`count` distinct sightings as form fields and files, each with its own frame and crop JPEG."""
    return [
        (s.key, {"metadata": s.metadata.decode()},
         {"frame": ("f.jpg", s.frame, "image/jpeg"), "crop": ("c.jpg", s.crop, "image/jpeg")})
        for s in sightings(count, "small")
    ]  # fmt: skip


class ServerProcess:
    def __init__(self, settings: Settings) -> None:  # noqa: F811
        self.port = free_port()
        self.env = {**os.environ, "STREETWATCH_DATA_DIR": str(settings.data_dir)}
        if settings.database_url:
            self.env["STREETWATCH_DATABASE_URL"] = settings.database_url
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "uvicorn", "--factory", "inference_server.app:create_app",
                   "--port", str(self.port), "--log-level", "warning"]  # fmt: skip
        self.process = subprocess.Popen(command, env=self.env, cwd=REPO_ROOT)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx2.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).status_code == 200:
                    return
            except httpx2.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


@pytest.mark.parametrize("batch", [1, 20], ids=["one per request", "batches of 20"])
def test_kill_9_mid_stream_loses_nothing_and_duplicates_nothing(settings: Settings, batch: int) -> None:  # noqa: F811
    key = add_device(settings, "crash-car")
    server = ServerProcess(settings)
    server.start()
    payloads = _payloads(COUNT)
    accepted: set[str] = set()
    lock = threading.Lock()
    killed = threading.Event()

    def note_accepted(sighting_ids: list[str]) -> None:
        with lock:
            accepted.update(sighting_ids)
            if len(accepted) >= COUNT // 4 and not killed.is_set():
                killed.set()
                server.kill()  # mid-stream, other requests in flight
                threading.Thread(target=server.start, daemon=True).start()

    def send(client: httpx2.Client, url: str, **request: Any) -> httpx2.Response:
        while True:  # the client retries with the same keys until the server has them
            try:
                return client.post(url, timeout=30, **request)
            except httpx2.HTTPError:
                time.sleep(0.2)

    def post(client: httpx2.Client, chunk: list[tuple[str, dict[str, str], dict[str, tuple[str, bytes, str]]]]) -> None:
        base = f"http://127.0.0.1:{server.port}/api/v1/sightings"
        if batch == 1:
            ((sighting_id, data, files),) = chunk
            headers = {"X-API-Key": key, "Idempotency-Key": sighting_id}
            response = send(client, base, data=data, files=files, headers=headers)
            assert response.status_code in (200, 201), response.text
            note_accepted([sighting_id])
            return
        records = [json.loads(data["metadata"]) for _, data, _ in chunk]
        evidence = [("evidence", part) for _, _, files in chunk for part in files.values()]
        response = send(client, base + "/batch", data={"sightings": json.dumps(records)}, files=evidence,
                        headers={"X-API-Key": key})  # fmt: skip
        assert response.status_code == 200, response.text
        assert {a["status"] for a in response.json()} <= {200, 201}, response.text
        note_accepted([a["key"] for a in response.json()])

    chunks = [payloads[i : i + batch] for i in range(0, COUNT, batch)]
    try:
        with httpx2.Client(limits=httpx2.Limits(max_connections=8)) as client, ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda chunk: post(client, chunk), chunks))
    finally:
        if server.process is not None and server.process.poll() is None:
            server.process.send_signal(signal.SIGTERM)
            server.process.wait(20)
    assert killed.is_set() and len(accepted) == COUNT
    engine = make_engine(settings.url)
    with Session(engine) as session:
        rows = session.exec(select(Sighting)).all()
    engine.dispose()
    assert len(rows) == COUNT and len({r.idempotency_key for r in rows}) == COUNT
    referenced = set()
    for row in rows:
        for digest in (row.frame_sha256, row.crop_sha256):
            path = evidence_path(settings.evidence_dir, digest)
            assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
            referenced.add(path)
    on_disk = {p for p in settings.evidence_dir.rglob("*") if p.is_file()}
    assert on_disk == referenced  # every file belongs to a sighting, no leftovers
    sent = {json.loads(data["metadata"])[k]["sha256"] for _, data, _ in payloads for k in ("frame", "crop")}
    assert {p.stem for p in referenced} == sent  # all of them (identical images share one content-addressed file)
