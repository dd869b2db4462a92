"""Many distinct sightings as the edge's outbox sends them, each with its own frame and crop JPEG."""

from __future__ import annotations

import hashlib
import json

import cv2
import numpy as np

from datasets.sources import REPO_ROOT
from vision.images import load_image
from vision.outbox import Pending


def sightings(count: int, evidence: str) -> list[Pending]:
    """`count` distinct sightings, each with its own frame and crop JPEG (the crash test and benchmarks/ingest.py):
    evidence `small` is a 64 × 48 frame, `real` a 960 × 540 sample street photo made unique by its number."""
    samples = sorted((REPO_ROOT / "samples" / "images").glob("*.jpg")) if evidence == "real" else []
    photos = [load_image(p) for p in samples]
    items = []
    for i in range(count):
        if evidence == "real":
            image = cv2.resize(photos[i % len(photos)], (960, 540), interpolation=cv2.INTER_AREA)
            crop_box = (120, 80, 440, 320)
        else:
            image = np.full((48, 64, 3), (i * 37) % 256, np.uint8)
            crop_box = (8, 8, 56, 40)
        cv2.putText(image, str(i), (2, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1)  # unique bytes
        x0, y0, x1, y1 = crop_box
        frame = cv2.imencode(".jpg", image)[1].tobytes()
        crop = cv2.imencode(".jpg", image[y0:y1, x0:x1])[1].tobytes()
        key = f"sighting-{i:06d}"
        record = {
            "sighting_id": key, "class_name": "exposed_garbage", "score": 0.7, "frames": 4,
            "first_time": 1e9 + i, "last_time": 1e9 + i + 1, "best_time": 1e9 + i, "box": [x0, y0, x1, y1],
            "location": {"lat": 31.2, "lon": 121.4}, "frame": {"sha256": hashlib.sha256(frame).hexdigest()},
            "crop": {"sha256": hashlib.sha256(crop).hexdigest()},
        }  # fmt: skip
        items.append(Pending(key, json.dumps(record).encode(), frame, crop))
    return items
