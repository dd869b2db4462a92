"""A real RTSP server (GStreamer, Debian packages) serves a drive video; it is killed mid-stream and restarted."""

from __future__ import annotations

import logging
import signal
import subprocess
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from testbed.net import free_port
from tests.conftest import REPO_ROOT
from vision.frames import Frame, StreamSettings, StreamSource

SYSTEM_PYTHON = "/usr/bin/python3"


def _has_rtsp_server() -> bool:
    probe = "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"
    try:
        return subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


pytestmark = pytest.mark.skipif(
    not _has_rtsp_server(), reason="needs GStreamer's RTSP server: apt-get install gir1.2-gst-rtsp-server-1.0 ..."
)


def _video(path: Path, seconds: int = 30, fps: int = 10) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (320, 240))
    for i in range(seconds * fps):
        image = np.full((240, 320, 3), 40, np.uint8)
        cv2.rectangle(image, (i * 3 % 300, 60), (i * 3 % 300 + 20, 120), (0, 200, 255), -1)
        writer.write(image)
    writer.release()
    return path


class RtspServer:
    def __init__(self, video: Path) -> None:
        self.port = free_port()
        self.video = video
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> str:
        self.process = subprocess.Popen(
            [SYSTEM_PYTHON, str(REPO_ROOT / "tests" / "rtsp_server.py"), str(self.port), str(self.video)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        assert line.startswith("ready "), line
        return line.split()[1]

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)


def _wait(condition, seconds: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_source_reconnects_after_the_rtsp_server_is_killed_and_restarted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = RtspServer(_video(tmp_path / "drive.mp4"))
    url = server.start()
    statuses: list[bool] = []
    settings = StreamSettings(open_timeout=5, stall_seconds=3, backoff_initial=0.5, backoff_max=2)
    source = StreamSource(url, settings, on_status=lambda online, why: statuses.append(online))
    received: list[Frame] = []
    consumer = threading.Thread(target=lambda: received.extend(source), daemon=True)
    try:
        with caplog.at_level(logging.INFO):
            consumer.start()
            _wait(lambda: len(received) >= 20, 30)
            server.kill()  # mid-stream
            _wait(lambda: statuses[-1:] == [False], 30)
            before = len(received)
            server.start()
            _wait(lambda: len(received) >= before + 20, 40)
            source.stop()
            consumer.join(15)
    finally:
        source.stop()
        server.kill()
    assert statuses[:3] == [True, False, True]
    assert source.stats.reconnects >= 1 and not consumer.is_alive()
    assert "offline" in caplog.text and "reconnecting" in caplog.text and "online" in caplog.text
    assert received[0].image.shape == (240, 320, 3)
