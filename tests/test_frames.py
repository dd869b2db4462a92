"""Frame sources: real video files through OpenCV/FFmpeg, image folders, a real HTTP MJPEG stream that drops."""

from __future__ import annotations

import logging
import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.mjpeg_server import MjpegServer
from vision.frames import (
    Frame,
    FrameBuffer,
    FrameSourceError,
    ImageFolderSource,
    SourceStats,
    StreamSettings,
    StreamSource,
    VideoFileSource,
    sample_by_distance,
    sample_by_time,
)


def _write_video(path: Path, frames: int, fourcc: str = "mp4v", fps: float = 25.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (160, 120))
    assert writer.isOpened()
    for i in range(frames):
        image = np.full((120, 160, 3), (i * 5) % 250, np.uint8)
        cv2.putText(image, str(i), (10, 60), cv2.FONT_HERSHEY_SIMPLEX, 1, (255, 255, 255), 2)
        writer.write(image)
    writer.release()
    return path


@pytest.mark.parametrize(("fourcc", "suffix"), [("mp4v", ".mp4"), ("MJPG", ".avi"), ("VP80", ".webm")])
def test_a_video_file_gives_every_frame_with_its_capture_time(tmp_path: Path, fourcc: str, suffix: str) -> None:
    source = VideoFileSource(_write_video(tmp_path / f"drive{suffix}", 30, fourcc), start_time=1_700_000_000.0)
    frames = list(source)
    assert [f.index for f in frames] == list(range(30))
    times = np.array([f.time for f in frames]) - 1_700_000_000.0
    assert times == pytest.approx(np.arange(30) / 25.0, abs=0.002)
    assert frames[0].image.shape == (120, 160, 3) and not source.stats.truncated


def test_a_truncated_video_yields_what_it_has_and_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _write_video(tmp_path / "cut.avi", 60, "MJPG")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    source = VideoFileSource(path)
    with caplog.at_level(logging.WARNING):
        frames = list(source)
    assert 10 < len(frames) < 60
    assert source.stats.truncated and "truncated" in caplog.text


def test_a_corrupt_or_missing_video_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    with pytest.raises(FrameSourceError, match=r"junk\.mp4"):
        list(VideoFileSource(junk))
    with pytest.raises(FrameSourceError, match="no such video file"):
        VideoFileSource(tmp_path / "missing.mp4")


def test_an_image_folder_is_read_in_time_order(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    image = np.zeros((40, 60, 3), np.uint8)
    for t in (1700000002.5, 1700000001.0, 1700000003.0):
        cv2.imwrite(str(tmp_path / f"{t}.jpg"), image)
    (tmp_path / "1700000004.jpg").write_bytes(b"not a jpeg")
    source = ImageFolderSource(tmp_path)
    with caplog.at_level(logging.WARNING):
        frames = list(source)
    assert [f.time for f in frames] == [1700000001.0, 1700000002.5, 1700000003.0]
    assert source.stats.skipped == 1 and "1700000004.jpg" in caplog.text


def test_image_times_from_a_sidecar_or_iso_names(tmp_path: Path) -> None:
    image = np.zeros((40, 60, 3), np.uint8)
    cv2.imwrite(str(tmp_path / "a.jpg"), image)
    cv2.imwrite(str(tmp_path / "2026-11-27T08_30_00.500Z.jpg"), image)
    (tmp_path / "timestamps.csv").write_text("file,time\na.jpg,2026-11-27T08:29:59Z\n")
    frames = list(ImageFolderSource(tmp_path))
    expected = datetime(2026, 11, 27, 8, 29, 59, tzinfo=UTC).timestamp()
    assert [f.time for f in frames] == [expected, expected + 1.5]
    cv2.imwrite(str(tmp_path / "untimed.jpg"), image)
    with pytest.raises(FrameSourceError, match=r"untimed\.jpg: no capture time"):
        ImageFolderSource(tmp_path)


def _frame(i: int, t: float | None = None) -> Frame:
    return Frame(np.zeros((2, 2, 3), np.uint8), float(i) if t is None else t, i, "test")


def test_the_buffer_drops_the_oldest_frame_and_never_blocks() -> None:
    stats = SourceStats()
    buffer = FrameBuffer(3, stats)
    started = time.monotonic()
    for i in range(5):
        buffer.put(_frame(i))
    assert time.monotonic() - started < 0.1
    assert [buffer.get(0).index for _ in range(3)] == [2, 3, 4]  # type: ignore[union-attr]
    assert stats.dropped == 2 and buffer.get(0.05) is None


def test_sampling_by_time_and_by_distance() -> None:
    frames = [_frame(i, i / 25) for i in range(50)]  # 2 s at 25 fps
    kept = list(sample_by_time(frames, 5))
    assert [f.index for f in kept] == list(range(0, 50, 5))
    # a car that stops between 0.8 s and 1.6 s: no frames while it stands
    odometer = lambda t: 10 * min(t, 0.8) + 10 * max(0.0, t - 1.6)  # noqa: E731
    moving = list(sample_by_distance(frames, odometer, metres=2.0))
    assert [round(f.time, 2) for f in moving] == [0.0, 0.2, 0.4, 0.6, 0.8, 1.8]
    with pytest.raises(ValueError, match="fps must be > 0"):
        list(sample_by_time(frames, 0))


def test_a_stream_that_drops_is_reconnected(caplog: pytest.LogCaptureFixture) -> None:
    server = MjpegServer().start()
    statuses: list[bool] = []
    settings = StreamSettings(open_timeout=3, stall_seconds=3, backoff_initial=0.2, backoff_max=1.0)
    source = StreamSource(server.url, settings, on_status=lambda online, why: statuses.append(online))
    received: list[Frame] = []
    with caplog.at_level(logging.INFO):
        consumer = threading.Thread(target=lambda: received.extend(source), daemon=True)
        consumer.start()
        _wait(lambda: len(received) >= 10, 15)
        server.stop()  # the camera reboots
        _wait(lambda: statuses[-1:] == [False], 15)
        before = len(received)
        server.start()  # back on the same port
        _wait(lambda: len(received) >= before + 10, 20)
        source.stop()
        consumer.join(10)
    assert statuses[:3] == [True, False, True]
    assert source.stats.reconnects >= 1 and not consumer.is_alive()
    assert "offline" in caplog.text and "reconnecting" in caplog.text
    times = [f.time for f in received]
    assert times == sorted(times)


def test_a_stream_that_never_answers_times_out() -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts connections, never says a word
    try:
        settings = StreamSettings(open_timeout=1, stall_seconds=1, backoff_initial=0.2, backoff_max=0.5)
        source = StreamSource(f"http://127.0.0.1:{silent.getsockname()[1]}/x", settings, give_up_after=3)
        started = time.monotonic()
        assert list(source) == []
        assert time.monotonic() - started < 20
        assert source.stats.events and source.stats.events[0].startswith("offline")
    finally:
        silent.close()


def _wait(condition, seconds: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def test_camera_passwords_are_removed_from_what_is_shown_and_stored() -> None:
    from vision.frames import without_credentials

    assert without_credentials("rtsp://admin:s3cret@10.0.0.7:554/live") == "rtsp://10.0.0.7:554/live"
    assert without_credentials("http://user@cam.local/mjpeg") == "http://cam.local/mjpeg"
    assert without_credentials("rtsp://10.0.0.7/live") == "rtsp://10.0.0.7/live"
    assert without_credentials("/videos/drive@07.mp4") == "/videos/drive@07.mp4"  # a file name keeps its @
