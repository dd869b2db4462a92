"""Sighting ingest throughput: sightings/s accepted with their evidence, SQLite vs PostgreSQL, one run.

    python -m benchmarks.ingest [--count 2000] [--clients 8] [--workers 1] [--batch 20] [--evidence small|real]

Starts the server (uvicorn, `--workers` processes) on a fresh SQLite database, then on a fresh database of a
throw-away PostgreSQL cluster (Debian's postgresql package, as the tests use), and posts `--count` sightings
from `--clients` concurrent clients over keep-alive connections, twice per database: one sighting per request
(`POST /api/v1/sightings`, as an edge device sends live) and `--batch` per request (`POST /api/v1/sightings/batch`,
as it empties a backlog). Evidence: `small` is a 64 × 48 frame and its crop (about 3 kB together); `real` is a
960 × 540 street photo from samples/ (each one made unique) and a crop of it (about 100 kB together). Request
bodies are built before the clock starts, so the client's own encoding does not count against the server (it
still shares the machine's cores). Prints a Markdown table and the machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from inference_server.devices import add_device
from inference_server.settings import Settings
from models.hardware import cpu_name
from testbed import postgres
from testbed.net import free_port
from testbed.sightings import sightings
from vision.outbox import Pending, batch_multipart

REPO = Path(__file__).resolve().parents[1]
Body = tuple[bytes, str]  # request body and its content type


def start_server(settings: Settings, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    env = {**os.environ, "STREETWATCH_DATA_DIR": str(settings.data_dir)}
    if settings.database_url:
        env["STREETWATCH_DATABASE_URL"] = settings.database_url
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "inference_server.app:create_app", "--port", str(port),
         "--workers", str(workers), "--log-level", "warning"],
        env=env, cwd=REPO,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return server, base
        except httpx.HTTPError:
            time.sleep(0.2)
        if time.monotonic() > deadline:
            server.kill()
            raise RuntimeError("the server did not start")


def run(settings: Settings, items: list[Pending], clients: int, workers: int, batch: int) -> float:
    """Sightings per second accepted by a fresh server on `settings`, `batch` sightings per request."""
    key = add_device(settings, "bench")
    if batch == 1:
        path, bodies = "/api/v1/sightings", [(item.key, item.multipart()) for item in items]
    else:
        chunks = [items[i : i + batch] for i in range(0, len(items), batch)]
        path, bodies = "/api/v1/sightings/batch", [("", batch_multipart(chunk)) for chunk in chunks]
    server, base = start_server(settings, workers)
    try:
        with httpx.Client(limits=httpx.Limits(max_connections=clients)) as client, ThreadPoolExecutor(clients) as pool:

            def post(request: tuple[str, Body]) -> list[int]:
                idempotency_key, (body, content_type) = request
                headers = {"X-API-Key": key, "Content-Type": content_type}
                if idempotency_key:
                    headers["Idempotency-Key"] = idempotency_key
                response = client.post(base + path, content=body, headers=headers, timeout=120)
                if batch == 1:
                    return [response.status_code]
                return [a["status"] for a in response.json()] if response.status_code == 200 else [response.status_code]

            started = time.perf_counter()
            statuses = [status for answer in pool.map(post, bodies) for status in answer]
            seconds = time.perf_counter() - started
        if statuses.count(201) != len(items):
            raise RuntimeError(f"expected {len(items)} × 201, got {sorted(set(statuses))}")
        return len(items) / seconds
    finally:
        server.terminate()
        server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--batch", type=int, default=20, help="sightings per batch request")
    parser.add_argument("--evidence", choices=("small", "real"), default="small")
    args = parser.parse_args()
    items = sightings(args.count, args.evidence)
    size = sum(len(i.frame) + len(i.crop) for i in items) / len(items) / 1000
    rates: dict[tuple[str, int], float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for batch in (1, args.batch):
            rates["SQLite (WAL, synchronous=FULL)", batch] = run(
                Settings(data_dir=Path(tmp) / f"sqlite-{batch}"), items, args.clients, args.workers, batch
            )
        if postgres.available():
            cluster = postgres.PostgresServer().start()
            try:
                for batch in (1, args.batch):
                    settings = Settings(data_dir=Path(tmp) / f"pg-{batch}", database_url=cluster.new_database())
                    rates["PostgreSQL 15 (fsync on)", batch] = run(settings, items, args.clients, args.workers, batch)
            finally:
                cluster.stop()
    print(f"{cpu_name()}, {os.cpu_count()} cores; {args.count} sightings, evidence {args.evidence} "
          f"({size:.1f} kB a sighting), {args.clients} clients, {args.workers} uvicorn worker(s)\n")  # fmt: skip
    print("| database | sightings per request | sightings/s accepted |\n|---|---:|---:|")
    for (name, batch), rate in rates.items():
        print(f"| {name} | {batch} | {rate:.0f} |")


if __name__ == "__main__":
    main()
