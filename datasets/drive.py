"""A simulated patrol drive made of real street photos: a video that pans and zooms across each photo, and a GPS
track of the car driving a straight street at a steady speed while it is recorded.

For tests and benchmarks of the video pipeline (one sighting per object, not one per frame): each photo lies on a
larger canvas (a blurred, stretched copy of itself, like the street around it), and the camera window pans across
the canvas and zooms in while always containing the whole photo — so every object of the photo is in view in
every frame of its segment and moves across the frame as a kerbside object does seen from a passing car. A cut to
the next photo is the car reaching the next block. `FrameView`s map any frame's pixels back to its photo's, so a
sighting's box can be checked against what is really in the photo.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from vision.gps import GpsFix
from vision.images import load_image
from vision.track_files import write_gpx

EARTH_M_PER_DEG_LAT = 111_320.0


@dataclass(frozen=True)
class FrameView:
    """Frame pixel (x, y) = ((photo x, y) - (x0, y0)) * scale, for the frame at `time` showing photo `segment`."""

    time: float
    segment: int
    x0: float
    y0: float
    scale: float

    def to_photo(self, xyxy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Frame boxes (N x 4) in the photo's pixels."""
        shift = np.array([self.x0, self.y0] * 2, np.float64)
        return np.asarray(np.asarray(xyxy, np.float64).reshape(-1, 4) / self.scale + shift, np.float64)


@dataclass(frozen=True)
class Segment:
    """One photo's part of the drive (capture times of its first and last frames)."""

    photo: Path
    start: float
    end: float


@dataclass(frozen=True)
class Drive:
    video: Path
    gpx: Path
    start_time: float
    fps: float
    segments: tuple[Segment, ...]
    views: tuple[FrameView, ...]

    @property
    def frames(self) -> int:
        return len(self.views)

    def view_at(self, time: float) -> FrameView:
        """The frame shown at capture time `time` (nearest)."""
        index = min(len(self.views) - 1, max(0, round((time - self.start_time) * self.fps)))
        return self.views[index]


@dataclass(frozen=True)
class DriveSettings:
    """How the simulated drive is filmed: when, how fast, at what size, where on the map and heading where."""

    start_time: float = 1_795_852_800.0  # 2026-11-27 08:00 UTC
    fps: float = 10.0
    seconds_per_photo: float = 3.0
    size: tuple[int, int] = (960, 540)
    speed_mps: float = 8.0
    origin: tuple[float, float] = (31.2304, 121.4737)  # a street in Shanghai
    heading_deg: float = 90.0


def simulate_drive(photos: Sequence[Path], video: Path, gpx: Path, settings: DriveSettings = DriveSettings()) -> Drive:
    """Write the video (MPEG-4 part 2, `mp4v`, which OpenCV's pip build writes) and its GPX track."""
    start_time, fps, (w, h) = settings.start_time, settings.fps, settings.size
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise OSError(f"cannot write {video}")
    per_photo = max(2, round(settings.seconds_per_photo * fps))
    segments: list[Segment] = []
    views: list[FrameView] = []
    try:
        for number, photo in enumerate(photos):
            image = load_image(photo)
            ih, iw = image.shape[:2]
            base = max(iw, ih * w / h)  # the narrowest window (16:9) that holds the whole photo
            cw, ch = base * 1.35, base * 1.35 * h / w
            px, py = (cw - iw) / 2, (ch - ih) / 2  # the photo's place on the canvas
            canvas = cv2.GaussianBlur(cv2.resize(image, (round(cw), round(ch))), (0, 0), 12)
            canvas = (canvas * 0.8).astype(np.uint8)
            canvas[round(py) : round(py) + ih, round(px) : round(px) + iw] = image
            px, py = round(px), round(py)
            first = len(views)
            for k in range(per_photo):
                progress = k / (per_photo - 1)
                ww = base * (1.25 - 0.2 * progress)  # zooming in while the car approaches
                wh = ww * h / w
                left, right = max(0.0, px + iw - ww), min(px, cw - ww)  # windows that hold the whole photo
                x0 = left + (right - left) * progress  # the scene slides right to left across the frame
                y0 = (ch - wh) / 2
                m = np.array([[w / ww, 0, -x0 * w / ww], [0, h / wh, -y0 * h / wh]], np.float64)
                writer.write(cv2.warpAffine(canvas, m, (w, h), flags=cv2.INTER_LINEAR))
                t = start_time + len(views) / fps
                views.append(FrameView(t, number, x0 - px, y0 - py, w / ww))
            segments.append(Segment(photo, views[first].time, views[-1].time))
    finally:
        writer.release()
    track = _straight_track(start_time, len(views) / fps, settings.speed_mps, settings.origin, settings.heading_deg)
    write_gpx(track, gpx)
    return Drive(video, gpx, start_time, fps, tuple(segments), tuple(views))


def _straight_track(
    start: float, duration: float, speed: float, origin: tuple[float, float], heading: float
) -> list[GpsFix]:
    """1 Hz fixes of a car driving straight at `speed`, from a second before `start` to a second after the end."""
    fixes = []
    for second in range(math.ceil(duration) + 3):
        metres = speed * (second - 1)
        north, east = metres * math.cos(math.radians(heading)), metres * math.sin(math.radians(heading))
        lat = origin[0] + north / EARTH_M_PER_DEG_LAT
        lon = origin[1] + east / (EARTH_M_PER_DEG_LAT * math.cos(math.radians(origin[0])))
        fixes.append(GpsFix(time=start + second - 1, lat=lat, lon=lon, speed_mps=speed, heading_deg=heading))
    return fixes
