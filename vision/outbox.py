"""Store-and-forward for the edge: sightings wait on disk until the server has them, each sent exactly once.

`Outbox` is a SQLite file (WAL, synchronous=FULL): `put` returns only after the sighting and the bytes of its
evidence are on disk, so a crash or `kill -9` of the edge process afterwards loses nothing. Each sighting carries
an idempotency key (its sighting id); putting it twice stores it once. `Sender` posts pending sightings to the
server (`POST /api/v1/sightings`, JSON, header `Idempotency-Key`) oldest first and marks a sighting sent only
when the server answered 2xx — or 409, "I have that key already", which is what a retried request whose first
answer was lost gets. A network error or 5xx stops the round (the server is down: retry later, with backoff);
another 4xx marks that sighting rejected (kept, with the server's answer, never retried blindly).

The request body: the sighting's JSON fields plus `frame_jpeg` and `crop_jpeg` (base64) and their sha256, so the
server can check the evidence arrived unaltered.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vision.sightings import Sighting

logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,
    frame BLOB NOT NULL,
    crop BLOB NOT NULL,
    created REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'rejected')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    sent REAL
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (state, id);
"""


@dataclass(frozen=True)
class Pending:
    key: str
    body: bytes


class Outbox:
    """The on-disk queue. One instance per thread (SQLite connections are not shared across threads)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # put() returns only once the row is durable
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def put(self, sighting: Sighting) -> bool:
        """Queue a sighting with its evidence bytes; False if its key was queued before (stored once)."""
        frame = Path(sighting.frame.path).read_bytes()
        crop = Path(sighting.crop.path).read_bytes()
        for name, data, expected in (("frame", frame, sighting.frame.sha256), ("crop", crop, sighting.crop.sha256)):
            if hashlib.sha256(data).hexdigest() != expected:
                raise ValueError(f"sighting {sighting.sighting_id}: {name} evidence does not match its sha256")
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO outbox (key, payload, frame, crop, created) VALUES (?, ?, ?, ?, ?)",
            (sighting.sighting_id, sighting.to_json(), frame, crop, time.time()),
        )
        return cursor.rowcount == 1

    def pending(self, limit: int = 50) -> list[Pending]:
        rows = self._db.execute(
            "SELECT key, payload, frame, crop FROM outbox WHERE state = 'pending' ORDER BY id LIMIT ?", (limit,)
        ).fetchall()
        return [Pending(key, _body(payload, frame, crop)) for key, payload, frame, crop in rows]

    def mark(self, key: str, state: str, error: str | None = None) -> None:
        self._db.execute(
            "UPDATE outbox SET state = ?, attempts = attempts + 1, last_error = ?, sent = ? WHERE key = ?",
            (state, error, time.time() if state == "sent" else None, key),
        )

    def attempt_failed(self, key: str, error: str) -> None:
        self._db.execute("UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE key = ?", (error, key))

    def counts(self) -> dict[str, int]:
        counts = {"pending": 0, "sent": 0, "rejected": 0}
        counts.update(dict(self._db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall()))
        return counts


def _body(payload: str, frame: bytes, crop: bytes) -> bytes:
    record: dict[str, Any] = json.loads(payload)
    record["frame_jpeg"] = base64.b64encode(frame).decode()
    record["crop_jpeg"] = base64.b64encode(crop).decode()
    return json.dumps(record, ensure_ascii=False).encode()


class Sender:
    """Posts what the outbox holds to the server; `send_pending` once, or `run` until `stop`."""

    def __init__(self, outbox_path: Path | str, url: str, timeout: float = 10.0, max_backoff: float = 60.0) -> None:
        self.outbox_path = Path(outbox_path)
        self.url = url
        self.timeout = timeout
        self.max_backoff = max_backoff
        self._stop = threading.Event()

    def send_pending(self, outbox: Outbox | None = None) -> int:
        """Send every pending sighting, oldest first; stops at the first sign the server is unreachable."""
        own = outbox is None
        box = outbox or Outbox(self.outbox_path)
        sent = 0
        try:
            while batch := box.pending():
                for item in batch:
                    outcome = self._post(item)
                    if outcome == "unreachable":
                        return sent
                    if outcome == "sent":
                        box.mark(item.key, "sent")
                        sent += 1
                    else:
                        box.mark(item.key, "rejected", outcome)
                        logger.error("the server rejected sighting %s: %s", item.key, outcome)
        finally:
            if own:
                box.close()
        return sent

    def _post(self, item: Pending) -> str:
        request = urllib.request.Request(
            self.url,
            data=item.body,
            method="POST",
            headers={"Content-Type": "application/json", "Idempotency-Key": item.key},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
            return "sent"
        except urllib.error.HTTPError as error:
            if error.code == 409:  # the server has this key: a retry whose first answer was lost
                return "sent"
            if error.code >= 500 or error.code == 429:
                logger.warning("server error %d for %s; will retry", error.code, item.key)
                return "unreachable"
            return f"HTTP {error.code}: {error.read()[:500].decode(errors='replace')}"
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as error:
            logger.warning("server %s unreachable (%s); sightings stay in the outbox", self.url, error)
            return "unreachable"

    def run(self, interval: float = 2.0) -> None:
        """Send in a loop with exponential backoff while the server is down; returns after `stop()`."""
        backoff = interval
        box = Outbox(self.outbox_path)
        try:
            while not self._stop.is_set():
                self.send_pending(box)
                backoff = interval if not box.pending(1) else min(backoff * 2, self.max_backoff)
                self._stop.wait(backoff)
        finally:
            box.close()

    def stop(self) -> None:
        self._stop.set()
