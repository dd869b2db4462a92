"""A real HTTP server standing in for StreetWatch's sighting endpoints, for edge tests that need no database: it
records every sighting posted (alone: metadata JSON, frame, crop; or in a batch: a JSON array and the evidence)
and answers 201 for a new key, 200 for a repeat with the same metadata, 409 for a repeat with other metadata —
as the real server does (tests/test_server_ingest.py runs the edge against the real one)."""

from __future__ import annotations

import hashlib
import http.server
import json
from email.parser import BytesParser
from email.policy import default

from tests.local_http import LocalHttpServer, QuietHandler


class Receiver(LocalHttpServer):
    def __init__(self, port: int = 0) -> None:
        super().__init__(port)
        self.posts: list[str] = []  # Idempotency-Key of every POST that reached it, repeats included
        self.bodies: dict[str, dict] = {}  # type: ignore[type-arg]

    def receive(self, key: str, body: dict) -> int:  # type: ignore[type-arg]
        """Record one sighting; its status: 201 new, 200 a repeat, 409 the key with other data."""
        self.posts.append(key)
        stored = self.bodies.get(key)
        status = 201 if stored is None else 200 if stored["sighting_id"] == body["sighting_id"] else 409
        self.bodies.setdefault(key, body)
        return status

    def handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        outer = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                message = BytesParser(policy=default).parsebytes(
                    f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + raw
                )
                parts: dict[str, list] = {}  # type: ignore[type-arg]
                for part in message.iter_parts():
                    parts.setdefault(part.get_param("name", header="content-disposition"), []).append(
                        part.get_content()
                    )
                api_key = self.headers.get("X-API-Key", "")
                if self.path.endswith("/batch"):  # one answer per sighting, like the real server
                    evidence = {hashlib.sha256(data).hexdigest(): data for data in parts["evidence"]}
                    answers = []
                    for record in json.loads(parts["sightings"][0]):
                        body = {**record, "frame_bytes": evidence[record["frame"]["sha256"]],
                                "crop_bytes": evidence[record["crop"]["sha256"]], "api_key": api_key}  # fmt: skip
                        answers.append(
                            {"key": record["sighting_id"], "status": outer.receive(record["sighting_id"], body)}
                        )
                    self._answer(200, json.dumps(answers).encode())
                    return
                body = {
                    **json.loads(parts["metadata"][0]),
                    "frame_bytes": parts["frame"][0],
                    "crop_bytes": parts["crop"][0],
                }
                body["api_key"] = api_key
                self._answer(outer.receive(self.headers.get("Idempotency-Key", ""), body), b"{}")

            def _answer(self, status: int, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(payload)

        return Handler

    def start(self) -> Receiver:
        super().start()
        return self

    @property
    def base(self) -> str:
        """What a device is given as `--server`: the base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The sightings URL (what `--server` took before it took the base URL)."""
        return f"{self.base}/api/v1/sightings"
