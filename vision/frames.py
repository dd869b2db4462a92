"""Frame sources behind one interface: video files, live streams (RTSP, HTTP) and folders of images.

Every frame carries its capture time (Unix seconds, UTC), so that it can be put on the GPS track:
- a video file: the recording's start time (given, e.g. from the GPS log or the camera's file name) plus the
  frame's presentation time in the file;
- a live stream: the wall-clock time at which the frame was read (the camera and this machine share NTP time);
- an image folder: a `timestamps.csv` (`file,time`) beside the images, or times in the file names.

Live sources run a reader thread with a watchdog: when no frame arrives for `stall_seconds` (Frigate restarts after
20 s) or the stream drops, the capture is reopened with exponential backoff, and the source's status goes
offline → online. Frames go through a bounded buffer that drops the *oldest* frame when the consumer (inference)
falls behind — counted, never blocking the reader. Every network wait has a timeout.
"""

from __future__ import annotations

import csv
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

from vision.errors import ImageError, StreetWatchError
from vision.images import IMAGE_SUFFIXES, ImageArray, ImageLimits, load_image

logger = logging.getLogger(__name__)


class FrameSourceError(StreetWatchError):
    """A source that cannot be opened or read at all."""


@dataclass(frozen=True)
class Frame:
    """One decoded frame: BGR pixels, capture time (Unix seconds), its number in the source, the source's name."""

    image: ImageArray
    time: float
    index: int
    source: str


@dataclass
class SourceStats:
    """What a source did besides delivering frames."""

    read: int = 0
    dropped: int = 0  # oldest frames dropped from the buffer because the consumer fell behind
    skipped: int = 0  # unreadable frames or images, skipped and logged
    reconnects: int = 0
    truncated: bool = False  # the file ended before the frame count its header promised
    events: list[str] = field(default_factory=list)  # 'online', 'offline: <why>', in order


class VideoFileSource:
    """Frames of a video file, decoded by OpenCV's FFmpeg backend (mp4/H.264, avi/MJPEG, webm/VP8, …).

    A file that cannot be opened, has no decodable frame or frames over `max_pixels` (by its header, before any is
    decoded) is a `FrameSourceError`; a file that ends early
    (truncated) yields what it has and sets `stats.truncated`, logged.
    """

    def __init__(self, path: Path | str, start_time: float = 0.0, max_pixels: int = ImageLimits.max_pixels) -> None:
        self.path = Path(path)
        self.start_time = start_time
        self.stats = SourceStats()
        if not self.path.is_file():
            raise FrameSourceError(f"{self.path}: no such video file")
        capture = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
        try:
            if not capture.isOpened():
                raise FrameSourceError(f"{self.path}: not a video OpenCV/FFmpeg can open (corrupt or unknown format)")
            width, height = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
            if width * height > max_pixels:  # from the container's header, before a frame is decoded
                raise FrameSourceError(
                    f"{self.path}: {width}x{height} px frames = {width * height} pixels, more than the limit of "
                    f"{max_pixels}"
                )
            self.fps = float(capture.get(cv2.CAP_PROP_FPS)) or 0.0
            self.frame_count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        finally:
            capture.release()

    @property
    def duration(self) -> float | None:
        """Seconds, from the header (None when the header does not say)."""
        return self.frame_count / self.fps if self.fps > 0 and self.frame_count > 0 else None

    def __iter__(self) -> Iterator[Frame]:
        capture = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
        index = 0
        try:
            while True:
                ok, image = capture.read()
                if not ok or image is None:
                    break
                position = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                offset = position if position > 0 or index == 0 else index / (self.fps or 25.0)
                self.stats.read += 1
                yield Frame(np.asarray(image, np.uint8), self.start_time + offset, index, str(self.path))
                index += 1
        finally:
            capture.release()
        if index == 0:
            raise FrameSourceError(f"{self.path}: opened, but no frame could be decoded (corrupt or truncated)")
        if self.frame_count > 0 and index < 0.98 * self.frame_count:
            self.stats.truncated = True
            logger.warning(
                "%s: truncated, read %d of the %d frames its header promises", self.path, index, self.frame_count
            )


class ImageFolderSource:
    """Images of a folder in time order; times from `timestamps.csv` (file,time) or the file names.

    A time is Unix seconds (`1700000000.5.jpg`) or ISO 8601 (`2026-11-27T08:30:00.250Z.jpg`, also with `_` for
    `:`). An unreadable image is skipped, logged and counted.
    """

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self.stats = SourceStats()
        if not self.folder.is_dir():
            raise FrameSourceError(f"{self.folder}: no such folder")
        files = [p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
        if not files:
            raise FrameSourceError(f"{self.folder}: no images")
        sidecar = self.folder / "timestamps.csv"
        times = _read_sidecar(sidecar) if sidecar.is_file() else {}
        timed = []
        for path in files:
            t = times.get(path.name, _time_from_name(path.stem))
            if t is None:
                raise FrameSourceError(
                    f"{path}: no capture time (not in timestamps.csv, and the name is not a Unix or ISO time)"
                )
            timed.append((t, path))
        self.files = sorted(timed)

    def __iter__(self) -> Iterator[Frame]:
        for index, (t, path) in enumerate(self.files):
            try:
                image = load_image(path)
            except ImageError as error:
                self.stats.skipped += 1
                logger.warning("skipped %s: %s", path, error)
                continue
            self.stats.read += 1
            yield Frame(image, t, index, str(path))


def _read_sidecar(path: Path) -> dict[str, float]:
    times = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            t = parse_time(row.get("time", ""))
            if row.get("file") and t is not None:
                times[row["file"]] = t
    return times


def _time_from_name(stem: str) -> float | None:
    return parse_time(stem.replace("_", ":"))


def parse_time(text: str) -> float | None:
    """Unix seconds from Unix seconds or ISO 8601 text (no zone: UTC); None if it is neither."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


class FrameBuffer:
    """Bounded FIFO between a reader thread and a consumer: when full, the oldest frame is dropped (counted)."""

    def __init__(self, size: int, stats: SourceStats) -> None:
        if size < 1:
            raise ValueError(f"buffer size must be >= 1, got {size}")
        self._frames: deque[Frame] = deque()
        self._size = size
        self._stats = stats
        self._ready = threading.Condition()

    def put(self, frame: Frame) -> None:
        """Never blocks."""
        with self._ready:
            if len(self._frames) >= self._size:
                self._frames.popleft()
                self._stats.dropped += 1
            self._frames.append(frame)
            self._ready.notify()

    def get(self, timeout: float) -> Frame | None:
        """The oldest waiting frame, or None after `timeout` seconds without one."""
        with self._ready:
            if not self._frames:
                self._ready.wait(timeout)
            return self._frames.popleft() if self._frames else None

    def __len__(self) -> int:
        with self._ready:
            return len(self._frames)


@dataclass(frozen=True)
class StreamSettings:
    """Timeouts and retry policy of a live source."""

    open_timeout: float = 10.0  # seconds to wait for a connection
    stall_seconds: float = 20.0  # no frame for this long → reconnect (Frigate's default)
    backoff_initial: float = 1.0
    backoff_max: float = 30.0
    buffer_size: int = 8


class StreamSource:
    """A live RTSP/HTTP stream read by a thread that reconnects; iterate to consume frames until `stop()`.

    `on_status(online, reason)` is called on every change (and logged). Iteration ends when `stop()` is called,
    or when the stream has been offline for `give_up_after` seconds (None: never).
    """

    def __init__(
        self,
        url: str,
        settings: StreamSettings = StreamSettings(),
        on_status: Callable[[bool, str], None] | None = None,
        give_up_after: float | None = None,
        opener: Callable[[str, StreamSettings], cv2.VideoCapture] | None = None,
    ) -> None:
        self.url = url
        self.settings = settings
        self.stats = SourceStats()
        self.online = False
        self._on_status = on_status
        self._give_up_after = give_up_after
        self._open = opener or _open_capture
        self._buffer = FrameBuffer(settings.buffer_size, self.stats)
        self._stop = threading.Event()
        self._offline_since: float | None = time.monotonic()
        self._thread = threading.Thread(target=self._read_forever, name=f"stream-{url}", daemon=True)

    def start(self) -> StreamSource:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop reading and wait for the reader thread (bounded by the open and read timeouts)."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=self.settings.open_timeout + self.settings.stall_seconds + 5)

    def __iter__(self) -> Iterator[Frame]:
        if not self._thread.is_alive() and not self._stop.is_set():
            self.start()
        try:
            while not self._stop.is_set():
                frame = self._buffer.get(timeout=0.5)
                if frame is not None:
                    yield frame
                elif self._gave_up():
                    logger.error("%s: offline for more than %.0f s, giving up", self.url, self._give_up_after)
                    break
            while (frame := self._buffer.get(timeout=0)) is not None:  # what was read before the stop
                yield frame
        finally:
            self.stop()  # the reader thread ends with the iteration: none is left inside OpenCV at exit

    def _gave_up(self) -> bool:
        since = self._offline_since
        return self._give_up_after is not None and since is not None and time.monotonic() - since > self._give_up_after

    def _status(self, online: bool, reason: str) -> None:
        if online == self.online and self.stats.events:
            return
        self.online = online
        self._offline_since = None if online else time.monotonic()
        event = "online" if online else f"offline: {reason}"
        self.stats.events.append(event)
        (logger.info if online else logger.warning)("%s: %s", self.url, event)
        if self._on_status is not None:
            self._on_status(online, reason)

    def _read_forever(self) -> None:
        backoff = self.settings.backoff_initial
        index = 0
        first = True
        while not self._stop.is_set():
            if not first:
                self.stats.reconnects += 1
                logger.info("%s: reconnecting (attempt after %.1f s)", self.url, backoff)
            first = False
            capture = self._open(self.url, self.settings)
            try:
                if not capture.isOpened():
                    self._status(False, "cannot connect")
                else:
                    last_frame = time.monotonic()
                    while not self._stop.is_set():
                        ok, image = capture.read()
                        now = time.monotonic()
                        if ok and image is not None:
                            if not self.online:
                                self._status(True, "frames arriving")
                            backoff = self.settings.backoff_initial
                            last_frame = now
                            self.stats.read += 1
                            self._buffer.put(Frame(np.asarray(image, np.uint8), time.time(), index, self.url))
                            index += 1
                            continue
                        if now - last_frame > self.settings.stall_seconds:
                            self._status(False, f"no frame for {self.settings.stall_seconds:.0f} s")
                            break
                        if not ok:
                            self._status(False, "stream ended or dropped")
                            break
            finally:
                capture.release()
            if self._stop.wait(backoff):
                break
            backoff = min(backoff * 2, self.settings.backoff_max)


def _open_capture(url: str, settings: StreamSettings) -> cv2.VideoCapture:
    """OpenCV/FFmpeg capture with open and read timeouts, so that a dead server cannot hang the reader."""
    if url.startswith("rtsp://"):
        # RTP over the RTSP TCP connection: survives NAT and firewalls that drop UDP (FFmpeg's default is UDP)
        os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")
    timeout_ms = int(settings.open_timeout * 1000)
    read_ms = int(min(settings.stall_seconds, settings.open_timeout) * 1000)
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, read_ms]
    return cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)


def sample_by_time(frames: Iterable[Frame], fps: float) -> Iterator[Frame]:
    """Keep `fps` frames per second of capture time: the first frame, then the first at or after each 1/fps step.

    The steps form a grid from the first kept frame (so 25 fps sampled at 5 fps keeps every 5th frame); after a
    gap in the source longer than a step the grid restarts at the next frame.
    """
    if fps <= 0:
        raise ValueError(f"sampling fps must be > 0, got {fps}")
    step = 1.0 / fps
    due: float | None = None
    for frame in frames:
        if due is not None and frame.time < due - 1e-6:
            continue
        yield frame
        due = frame.time + step if due is None or frame.time - due >= step else due + step


def sample_by_distance(
    frames: Iterable[Frame], distance_at: Callable[[float], float], metres: float
) -> Iterator[Frame]:
    """Keep a frame only after the car moved `metres` since the last kept one (`distance_at(t)`: odometer, m).

    A car stopped at a light yields one frame, not hundreds of identical ones.
    """
    if metres <= 0:
        raise ValueError(f"sampling distance must be > 0 m, got {metres}")
    last: float | None = None
    for frame in frames:
        odometer = distance_at(frame.time)
        if last is None or odometer - last >= metres:
            last = odometer
            yield frame


def without_credentials(source: str) -> str:
    """A stream URL with any user:password@ removed, for what is logged and stored (rtsp://user:pw@cam → rtsp://cam)."""
    parts = urlsplit(source)
    if not parts.scheme or "@" not in parts.netloc:
        return source
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
