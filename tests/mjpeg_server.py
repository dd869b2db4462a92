"""A real HTTP MJPEG server (multipart/x-mixed-replace, what many IP cameras serve) for stream tests.

It runs in a thread of the test process on a real TCP port; `stop()` closes the listening socket and every open
stream (the drop a camera reboot causes), `start()` serves again on the same port.
"""

from __future__ import annotations

import http.server
import threading
import time

import cv2
import numpy as np

from tests.local_http import LocalHttpServer, QuietHandler


class MjpegServer(LocalHttpServer):
    """Serves numbered frames (the frame number is the grey level) at `fps` to every client."""

    def __init__(self, port: int = 0, fps: float = 25.0, size: tuple[int, int] = (160, 120)) -> None:
        super().__init__(port)
        self.fps, self.size = fps, size
        self.frames_sent = 0
        self._alive = threading.Event()

    def handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        outer = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                try:
                    while outer._alive.is_set():
                        level = outer.frames_sent % 250
                        image = np.full((outer.size[1], outer.size[0], 3), level, np.uint8)
                        jpeg = cv2.imencode(".jpg", image)[1].tobytes()
                        head = f"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                        self.wfile.write(head.encode() + jpeg + b"\r\n")
                        outer.frames_sent += 1
                        time.sleep(1 / outer.fps)
                except OSError:
                    pass  # the client went away

        return Handler

    def start(self) -> MjpegServer:
        self._alive.set()
        super().start()
        return self

    def stop(self) -> None:
        self._alive.clear()  # open streams end
        super().stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream.mjpg"
