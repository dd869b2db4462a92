"""A threaded HTTP server for tests that can be stopped and restarted (on the same port)."""

from __future__ import annotations

import http.server
import socketserver
import threading


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A request handler that does not log every request to stderr."""

    def log_message(self, *args: object) -> None:
        pass


class _ThreadedServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True  # a restart binds the same port at once


class LocalHttpServer:
    """Serves `handler()`'s class on 127.0.0.1 (`port` 0: any free port, then kept across restarts)."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self._server: socketserver.TCPServer | None = None

    def handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        raise NotImplementedError

    def start(self) -> LocalHttpServer:
        self._server = _ThreadedServer(("127.0.0.1", self.port), self.handler())
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
