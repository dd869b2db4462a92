"""Sighting ingest throughput: sightings/s accepted with their evidence, SQLite vs PostgreSQL, one run.

    python -m benchmarks.ingest [--count 2000] [--clients 8] [--workers 1]

Starts the server (uvicorn, `--workers` processes) on a fresh SQLite database, then on a fresh database of a
throw-away PostgreSQL cluster (Debian's postgresql package, as the tests use), and posts `--count` sightings
with a frame and a crop JPEG each (about 3 kB together) from `--clients` concurrent clients over keep-alive
connections. Prints a Markdown table and the machine.
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

from inference_server.app import add_device
from inference_server.settings import Settings
from models.hardware import cpu_name
from tests import postgres
from tests.test_server_crash import _payloads

REPO = Path(__file__).resolve().parents[1]


def run(settings: Settings, count: int, clients: int, workers: int) -> float:
    """Sightings per second accepted by a server on `settings`."""
    key = add_device(settings, "bench")
    env = {**os.environ, "STREETWATCH_DATA_DIR": str(settings.data_dir)}
    if settings.database_url:
        env["STREETWATCH_DATABASE_URL"] = settings.database_url
    port = 18_000 + os.getpid() % 1000
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "inference_server.app:create_app", "--port", str(port),
         "--workers", str(workers), "--log-level", "warning"],
        env=env, cwd=REPO,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
        payloads = _payloads(count)
        url = f"http://127.0.0.1:{port}/api/v1/sightings"
        with httpx.Client(limits=httpx.Limits(max_connections=clients)) as client, ThreadPoolExecutor(clients) as pool:

            def post(item: tuple[str, dict[str, str], dict[str, tuple[str, bytes, str]]]) -> int:
                sighting_id, data, files = item
                headers = {"X-API-Key": key, "Idempotency-Key": sighting_id}
                return client.post(url, data=data, files=files, headers=headers, timeout=60).status_code

            started = time.perf_counter()
            statuses = list(pool.map(post, payloads))
            seconds = time.perf_counter() - started
        if statuses.count(201) != count:
            raise RuntimeError(f"expected {count} × 201, got {sorted(set(statuses))}")
        return count / seconds
    finally:
        server.terminate()
        server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args()
    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        rates["SQLite (WAL, synchronous=FULL)"] = run(
            Settings(data_dir=Path(tmp) / "sqlite"), args.count, args.clients, args.workers
        )
        if postgres.available():
            cluster = postgres.PostgresServer().start()
            try:
                settings = Settings(data_dir=Path(tmp) / "pg", database_url=cluster.new_database())
                rates["PostgreSQL 15 (fsync on)"] = run(settings, args.count, args.clients, args.workers)
            finally:
                cluster.stop()
    print(f"{cpu_name()}, {os.cpu_count()} cores; {args.count} sightings with 2 JPEGs each, {args.clients} clients, "
          f"{args.workers} uvicorn worker(s)\n")  # fmt: skip
    print("| database | sightings/s accepted |\n|---|---:|")
    for name, rate in rates.items():
        print(f"| {name} | {rate:.0f} |")


if __name__ == "__main__":
    main()
