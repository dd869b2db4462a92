"""Review UI API latency on a full database: the queue's next sighting and the dashboard, p50 / p95, one run.

    python -m benchmarks.ui_api [--sightings 100000] [--cases 10000] [--requests 200]

Fills a fresh SQLite database (schema by the migrations, WAL) with `--sightings` sightings (half pending) over the
sample districts and `--cases` cases in every state over the last 120 days, by bulk inserts; then sends sequential
requests through the real app (FastAPI's TestClient, a reviewer's bearer token) and prints a Markdown table with
the machine. Targets on the 2-core development machine: next-sighting p95 < 150 ms, dashboard p95 < 500 ms.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session

from inference_server.app import create_app
from inference_server.auth import add_user
from inference_server.db import create_schema, make_engine
from inference_server.devices import add_device
from inference_server.geo import load_areas, locate
from inference_server.settings import Settings
from inference_server.tables import Case, CaseEvent, Sighting
from models.hardware import cpu_name

DISTRICTS = Path(__file__).resolve().parents[1] / "samples" / "districts.geojson"
CLASSES = ["illegal_ad", "overflowing_bin", "exposed_garbage", "street_stall", "dirty_facade"]
STATES = ["filed", "dispatched", "handling", "verifying", "closed", "rejected"]
STATE_WEIGHTS = [0.04, 0.04, 0.06, 0.03, 0.78, 0.05]
PASSWORD = "benchmark password"


def places(rng: random.Random, count: int) -> list[tuple[float, float, str | None, str | None]]:
    """`count` points over the sample districts with the district and street they fall in."""
    areas = load_areas(DISTRICTS)
    lons = [p[0] for a in areas for p in a.polygons[0][0]]
    lats = [p[1] for a in areas for p in a.polygons[0][0]]
    hot = [(rng.uniform(min(lats), max(lats)), rng.uniform(min(lons), max(lons))) for _ in range(2000)]
    found = []
    for _ in range(count):
        lat, lon = rng.choice(hot)  # repeat spots, as patrols do
        lat, lon = lat + rng.gauss(0, 0.0002), lon + rng.gauss(0, 0.0002)
        found.append((lat, lon, *locate(areas, lat, lon)))
    return found


def fill(engine: Engine, sightings: int, cases: int, rng: random.Random) -> None:
    """Bulk-insert the sightings and the cases (with one filing event each) in large transactions."""
    now = time.time()
    points = places(rng, sightings + cases)
    rows = []
    for i in range(sightings):
        lat, lon, district, street = points[i]
        when = now - rng.uniform(0, 120 * 86400)
        status = rng.choices(["pending", "confirmed", "rejected"], [0.5, 0.35, 0.15])[0]
        rows.append({
            "class_name": rng.choice(CLASSES), "score": round(rng.uniform(0.25, 0.99), 4), "frames": 5,
            "first_time": when - 2, "last_time": when + 2, "best_time": when, "box": [10.0, 20.0, 200.0, 220.0],
            "lat": lat, "lon": lon, "heading_deg": 90.0, "model": "bench", "source": "bench",
            "idempotency_key": f"bench-{i}", "metadata_sha256": "0" * 64, "device_id": 1, "frame_sha256": "a" * 64,
            "crop_sha256": "b" * 64, "status": status, "received": datetime.fromtimestamp(when, UTC),
            "district": district, "street": street,
        })  # fmt: skip
    case_rows, events = [], []
    for i in range(cases):
        lat, lon, district, street = points[sightings + i]
        created = datetime.now(UTC) - timedelta(days=rng.uniform(0, 120))
        state = rng.choices(STATES, STATE_WEIGHTS)[0]
        updated = created + timedelta(hours=rng.uniform(1, 72)) if state != "filed" else created
        case_rows.append({
            "id": i + 1, "class_name": rng.choice(CLASSES), "state": state, "lat": lat, "lon": lon,
            "department": "环卫所" if state != "filed" else None, "district": district, "street": street,
            "satisfaction": rng.choice([5, 5, 5, 4, 4, 3]) if state == "closed" else None,
            "deadline": created + timedelta(hours=rng.choice([4, 8, 24, 48])), "created": created,
            "updated": min(updated, datetime.now(UTC)),
        })  # fmt: skip
        events.append({"case_id": i + 1, "user_id": 1, "at": created, "from_state": None, "to_state": "filed",
                       "note": "bench"})  # fmt: skip
    with engine.begin() as connection:
        for start in range(0, len(rows), 10_000):
            connection.execute(Sighting.__table__.insert(), rows[start : start + 10_000])  # type: ignore[attr-defined]
        connection.execute(Case.__table__.insert(), case_rows)  # type: ignore[attr-defined]
        connection.execute(CaseEvent.__table__.insert(), events)  # type: ignore[attr-defined]
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))  # the planner's statistics, as a maintained database has them


def measure(http: TestClient, path: str, params: dict[str, object], headers: dict[str, str], count: int) -> list[float]:
    """Milliseconds of `count` sequential GETs (after two warm-up requests)."""
    for _ in range(2):
        http.get(path, params=params, headers=headers).raise_for_status()  # type: ignore[arg-type]
    times = []
    for _ in range(count):
        started = time.perf_counter()
        http.get(path, params=params, headers=headers).raise_for_status()  # type: ignore[arg-type]
        times.append((time.perf_counter() - started) * 1000)
    return times


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sightings", type=int, default=100_000)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder), districts=DISTRICTS)
        add_device(settings, "bench")
        engine = make_engine(settings.url)
        create_schema(engine)
        with Session(engine) as s:
            add_user(s, "reviewer", PASSWORD, "supervisor")
        started = time.perf_counter()
        fill(engine, args.sightings, args.cases, rng)
        filled = time.perf_counter() - started
        engine.dispose()
        with TestClient(create_app(settings)) as http:
            token = http.post("/api/v1/auth/token", data={"username": "reviewer", "password": PASSWORD}).json()
            headers = {"Authorization": f"Bearer {token['access_token']}"}
            runs = [
                ("next sighting (score order, 3 with context)", "/api/v1/ui/review/next", {"limit": 3}, 150),
                ("next sighting (oldest, one class)", "/api/v1/ui/review/next",
                 {"limit": 3, "order": "oldest", "class_name": "street_stall"}, 150),
                ("dashboard, 30 days", "/api/v1/ui/dashboard", {"days": 30}, 500),
                ("dashboard, 120 days (all cases)", "/api/v1/ui/dashboard", {"days": 120}, 500),
                ("case board", "/api/v1/ui/cases/board", {}, None),
                ("map, one class", "/api/v1/ui/map", {"class_name": "exposed_garbage"}, None),
            ]  # fmt: skip
            results = []
            for name, path, params, target in runs:
                count = args.requests if "map" not in name else max(20, args.requests // 10)
                times = measure(http, path, params, headers, count)
                results.append((name, count, statistics.median(times), p95(times), max(times), target))
    cores = len(os.sched_getaffinity(0))
    print(f"{cpu_name()}, {cores} cores, Python {platform.python_version()}, SQLite (WAL); "
          f"{args.sightings:,} sightings + {args.cases:,} cases bulk-inserted in {filled:.1f} s; sequential "
          "requests through the real app (TestClient)\n")  # fmt: skip
    print("| endpoint | requests | p50 ms | p95 ms | max ms | target p95 |")
    print("|---|---:|---:|---:|---:|---|")
    for name, count, p50, p95_ms, worst, target in results:
        verdict = "—" if target is None else f"< {target} ms {'✓' if p95_ms < target else '✗'}"
        print(f"| {name} | {count} | {p50:.1f} | {p95_ms:.1f} | {worst:.1f} | {verdict} |")


if __name__ == "__main__":
    main()
