"""A real server with realistic data for the review UI: users per role, a device, the sample districts, sightings
made from the bundled sample photos and their labels, posted through the real ingest API.

Used by the browser tests (`tests/test_review_ui.py`) and the screenshot script (`scripts/ui_screenshots.py`).
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import httpx2
import uvicorn

from inference_server.app import create_app
from inference_server.geo import load_areas, locate
from inference_server.settings import Settings
from testbed.net import free_port
from testbed.people import add_people

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLES = REPO_ROOT / "samples"
DISTRICTS = SAMPLES / "districts.geojson"
# the samples' own class ids (samples/README.md) → the taxonomy's classes; others are not street events
SOURCE_CLASSES = {
    "garbage-cn": {0: "exposed_garbage", 2: "overflowing_bin"},
    "garbage-street": {0: "exposed_garbage"},
    "facades-spb": {4: "illegal_ad"},
}
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@dataclass(frozen=True)
class Labelled:
    """One labelled object of a sample photo: the photo, its class in our taxonomy and its box in pixels."""

    image: Path
    class_name: str
    box: tuple[float, float, float, float]


def labelled_objects() -> list[Labelled]:
    """Every sample object of a taxonomy class; each facade photo also counts once as a dirty facade."""
    found = []
    for label_file in sorted((SAMPLES / "labels").glob("*.txt")):
        image = SAMPLES / "images" / f"{label_file.stem}.jpg"
        source = label_file.stem.split("__")[0]
        height, width = cv2.imread(str(image)).shape[:2]
        for line in label_file.read_text().splitlines():
            cid, cx, cy, w, h = (float(v) for v in line.split())
            name = SOURCE_CLASSES[source].get(int(cid))
            if name and w * h > 0.004:
                box = ((cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height)
                found.append(Labelled(image, name, tuple(round(v, 1) for v in box)))  # type: ignore[arg-type]
        if source == "facades-spb":
            found.append(Labelled(image, "dirty_facade", (0.12 * width, 0.08 * height, 0.88 * width, 0.7 * height)))
    return found


def random_point(rng: random.Random, street: int | None = None) -> tuple[float, float, str, str]:
    """A point inside one of the sample districts' streets (lat, lon, district, street)."""
    areas = load_areas(DISTRICTS)
    area = areas[street % len(areas)] if street is not None else rng.choice(areas)
    ring = area.polygons[0][0]
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    while True:
        lon, lat = rng.uniform(min(lons), max(lons)), rng.uniform(min(lats), max(lats))
        district, street_name = locate([area], lat, lon)
        if district:
            return lat, lon, district, street_name or ""


def post_sighting(
    http: httpx2.Client, key: str, obj: Labelled, *, ident: str, when: float, place: tuple[float, float], score: float
) -> dict[str, object]:
    """Post one sighting of `obj` through the real ingest API (the frame and its crop as JPEG evidence)."""
    pixels = cv2.imread(str(obj.image))
    x1, y1, x2, y2 = (int(v) for v in obj.box)
    frame = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()
    crop = cv2.imencode(".jpg", pixels[max(0, y1) : y2, max(0, x1) : x2], [cv2.IMWRITE_JPEG_QUALITY, 88])[1].tobytes()
    metadata = {
        "sighting_id": ident, "class_name": obj.class_name, "score": score, "frames": 6, "first_time": when - 2,
        "last_time": when + 2, "best_time": when, "box": list(obj.box),
        "location": {"lat": place[0], "lon": place[1], "heading_deg": 90.0},
        "frame": {"sha256": hashlib.sha256(frame).hexdigest()}, "crop": {"sha256": hashlib.sha256(crop).hexdigest()},
        "source": "巡查车 沪A·C0731", "model": "streetwatch-starter 0.2.0",
    }  # fmt: skip
    response = http.post(
        "/api/v1/sightings",
        data={"metadata": json.dumps(metadata, ensure_ascii=False)},
        files={"frame": ("frame.jpg", frame, "image/jpeg"), "crop": ("crop.jpg", crop, "image/jpeg")},
        headers={"X-API-Key": key, "Idempotency-Key": ident},
    )
    response.raise_for_status()
    return dict(response.json())


def prepare(settings: Settings) -> tuple[Settings, str]:
    """Users (one per role, named after it), a patrol car; returns the settings with the sample districts, and
    the car's API key."""
    settings = settings.model_copy(update={"districts": DISTRICTS})
    return settings, add_people(settings, "car-07")


@contextmanager
def running_server(settings: Settings) -> Iterator[str]:
    """The real app under uvicorn in a thread on a free port; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
