"""Store-and-forward for the edge: sightings wait on disk until the server has them, each sent exactly once.

`Outbox` is a SQLite file (WAL, synchronous=FULL): `put` returns only after the sighting and the bytes of its
evidence are on disk, so a crash or `kill -9` of the edge process afterwards loses nothing. Each sighting carries
an idempotency key (its sighting id); putting it twice stores it once. `Sender` posts pending sightings to the
server oldest first and marks a sighting sent only when the server answered 2xx (a retry of a request whose first
answer was lost gets the stored record back, also 2xx). A network error, 5xx, 429, 401 or 403 stops the round
and keeps everything pending (the server is down, busy, or the device key is being fixed: retry later, with
backoff); another 4xx — 409 means this key came before with a different body — marks that sighting rejected
(kept, with the server's answer, never retried blindly).

The request: `POST /api/v1/sightings`, headers `Idempotency-Key` (the sighting id) and `X-API-Key` (the device's
key), body `multipart/form-data` with `metadata` (the sighting as JSON, evidence sha256 included, so the server
can check the evidence arrived unaltered), `frame` and `crop` (the JPEG evidence). A backlog (after the network
came back) goes in batches: `POST /api/v1/sightings/batch` with `sightings` (a JSON array) and each evidence file
once as `evidence`; the server answers per sighting, and each is marked by its own answer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

from vision.server_client import ServerClient
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
    metadata: bytes
    frame: bytes
    crop: bytes

    def multipart(self) -> tuple[bytes, str]:
        """The request body and its content type."""
        return _multipart([
            ("metadata", None, "application/json", self.metadata),
            ("frame", "frame.jpg", "image/jpeg", self.frame),
            ("crop", "crop.jpg", "image/jpeg", self.crop),
        ])  # fmt: skip


def batch_multipart(items: list[Pending]) -> tuple[bytes, str]:
    """One batch request's body: the sightings as a JSON array and every evidence file once."""
    evidence = {hashlib.sha256(data).hexdigest(): data for item in items for data in (item.frame, item.crop)}
    fields: list[tuple[str, str | None, str, bytes]] = [
        ("sightings", None, "application/json", b"[" + b",".join(item.metadata for item in items) + b"]")
    ]
    fields += [("evidence", f"{sha}.jpg", "image/jpeg", data) for sha, data in evidence.items()]
    return _multipart(fields)


def _multipart(fields: list[tuple[str, str | None, str, bytes]]) -> tuple[bytes, str]:
    boundary = f"streetwatch-{uuid.uuid4().hex}"
    parts = []
    for name, filename, kind, data in fields:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: {kind}\r\n\r\n"
        parts.append(head.encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


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
        return [Pending(key, payload.encode(), frame, crop) for key, payload, frame, crop in rows]

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


class Sender:
    """Posts what the outbox holds to the server; `send_pending` once, or `run` until `stop`."""

    def __init__(
        self,
        outbox_path: Path | str,
        server: ServerClient,
        timeout: float = 10.0,
        max_backoff: float = 60.0,
        batch_size: int = 20,
    ) -> None:
        self.outbox_path = Path(outbox_path)
        self.batch_size = batch_size
        self._batches = batch_size > 1  # off for good once a server answers that it has no batch endpoint
        self.server = server
        self.timeout = timeout
        self.max_backoff = max_backoff
        self._stop = threading.Event()

    def send_pending(self, outbox: Outbox | None = None) -> int:
        """Send every pending sighting, oldest first; stops at the first sign the server is unreachable."""
        own = outbox is None
        box = outbox or Outbox(self.outbox_path)
        sent = 0
        try:
            while batch := box.pending(max(self.batch_size, 1)):
                if self._batches and len(batch) > 1:
                    outcomes = self._post_batch(batch)
                else:
                    outcomes = {}
                    for item in batch:
                        outcomes[item.key] = outcome = self._post(item)
                        if outcome == "unreachable":
                            break
                for item in batch:
                    outcome = outcomes.get(item.key, "unreachable")
                    if outcome == "unreachable":
                        continue
                    if outcome == "sent":
                        box.mark(item.key, "sent")
                        sent += 1
                    else:
                        box.mark(item.key, "rejected", outcome)
                        logger.error("the server rejected sighting %s: %s", item.key, outcome)
                if "unreachable" in outcomes.values() or len(outcomes) < len(batch):
                    return sent
        finally:
            if own:
                box.close()
        return sent

    def _post(self, item: Pending) -> str:
        body, content_type = item.multipart()
        request = urllib.request.Request(
            self.server.sightings,
            data=body,
            method="POST",
            headers={"Content-Type": content_type, "Idempotency-Key": item.key, **self.server.headers},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
            return "sent"
        except urllib.error.HTTPError as error:
            if error.code >= 500 or error.code in (401, 403, 429):
                logger.warning("server answered %d for %s; keeping it, will retry", error.code, item.key)
                return "unreachable"
            return f"HTTP {error.code}: {error.read()[:500].decode(errors='replace')}"
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as error:
            logger.warning("server %s unreachable (%s); sightings stay in the outbox", self.server.base_url, error)
            return "unreachable"

    def _post_batch(self, items: list[Pending]) -> dict[str, str]:
        """Each item's outcome from one batch request; all 'unreachable' if the request as a whole failed."""
        body, content_type = batch_multipart(items)
        url = self.server.sightings_batch
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": content_type, **self.server.headers}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout * 3) as response:
                answers = json.loads(response.read())
        except urllib.error.HTTPError as error:
            if error.code in (404, 405):  # an older server: one sighting per request from now on
                logger.warning("server has no batch endpoint (%d); sending one at a time", error.code)
                self._batches = False
                return {item.key: outcome for item in items if (outcome := self._post(item)) != "unreachable"}
            logger.warning("server answered %d to a batch of %d; keeping them, will retry", error.code, len(items))
            return {}
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError, ValueError) as error:
            logger.warning("server %s unreachable (%s); sightings stay in the outbox", url, error)
            return {}
        outcomes = {}
        for answer in answers:
            status = int(answer.get("status", 0))
            if status in (200, 201):
                outcomes[answer["key"]] = "sent"
            elif 400 <= status < 500:
                outcomes[answer["key"]] = f"HTTP {status}: {answer.get('error', '')}"[:500]
        return outcomes

    def report_run(self, key: str, summary: dict[str, object]) -> bool:
        """Send a patrol run's summary (`PUT /api/v1/runs/{key}`); False if the server could not take it now."""
        request = urllib.request.Request(
            self.server.run(key),
            data=json.dumps(summary).encode(),
            method="PUT",
            headers={"Content-Type": "application/json", **self.server.headers},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
            return True
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as error:
            logger.warning("could not send the summary of run %s: %s", key, error)
            return False

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
