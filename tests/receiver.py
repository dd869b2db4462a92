"""A real HTTP server standing in for StreetWatch's sighting endpoint (until the server exists): it records every
POST (multipart: metadata JSON, frame, crop) and answers 201 for a new Idempotency-Key, 200 with the stored record
for a repeat with the same metadata, 409 for a repeat with different metadata — like the real one will."""

from __future__ import annotations

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

    def handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        outer = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                key = self.headers.get("Idempotency-Key", "")
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                message = BytesParser(policy=default).parsebytes(
                    f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + raw
                )
                parts = {
                    p.get_param("name", header="content-disposition"): p.get_content() for p in message.iter_parts()
                }
                body = {**json.loads(parts["metadata"]), "frame_bytes": parts["frame"], "crop_bytes": parts["crop"]}
                body["api_key"] = self.headers.get("X-API-Key", "")
                outer.posts.append(key)
                stored = outer.bodies.get(key)
                status = 201 if stored is None else 200 if stored["sighting_id"] == body["sighting_id"] else 409
                outer.bodies.setdefault(key, body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

        return Handler

    def start(self) -> Receiver:
        super().start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1/sightings"
