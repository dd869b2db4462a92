"""GPS tracks of a patrol car: fixes, and where the car was at a frame's capture time.

A track is a time-sorted list of fixes. `GpsTrack.position_at` interpolates between the two fixes around a time,
so a 30 fps video gets a position per frame from a 1 Hz receiver; a time outside the track is an error that names
the spans involved. The files a track comes from (GPX, NMEA 0183, CSV) are read and written by
`vision.track_files`; distances and bearings are `vision.geodesy`'s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from vision.errors import StreetWatchError
from vision.geodesy import bearing_deg, destination, haversine_array, wrap_lon

MIN_MOVE_M = 0.5  # below this between two fixes, their bearing is receiver noise, not the car's heading
LATEST_TIME = 4_102_444_800.0  # 2100-01-01: a larger "Unix time" is almost surely milliseconds

FloatArray = npt.NDArray[np.float64]


class GpsTrackError(StreetWatchError):
    """A GPS track file that cannot be used: missing, unreadable, of an unknown kind, or without a usable fix."""


class GpsCoverageError(StreetWatchError):
    """A time (or a video's time span) that the GPS track does not cover."""


@dataclass(frozen=True)
class GpsFix:
    """One receiver fix: Unix time (UTC seconds), position in degrees, optional speed and course over ground.

    `heading_deg` is 0 for north, clockwise, normalised to [0, 360). Out-of-range values raise `ValueError`.
    """

    time: float
    lat: float
    lon: float
    speed_mps: float | None = None
    heading_deg: float | None = None

    def __post_init__(self) -> None:
        for name in ("time", "lat", "lon"):  # ints (and numpy scalars) become plain floats
            object.__setattr__(self, name, float(getattr(self, name)))
        if not 0.0 <= self.time < LATEST_TIME:  # also rejects NaN
            raise ValueError(f"time must be Unix seconds between 1970 and 2100, got {self.time}")
        if not -90.0 <= self.lat <= 90.0:
            raise ValueError(f"lat must be within [-90, 90] degrees, got {self.lat}")
        if not -180.0 <= self.lon <= 180.0:
            raise ValueError(f"lon must be within [-180, 180] degrees, got {self.lon}")
        if self.speed_mps is not None and not 0.0 <= self.speed_mps < math.inf:
            raise ValueError(f"speed_mps must be a finite value >= 0, got {self.speed_mps}")
        if self.heading_deg is not None:
            if not math.isfinite(self.heading_deg):
                raise ValueError(f"heading_deg must be finite, got {self.heading_deg}")
            object.__setattr__(self, "heading_deg", self.heading_deg % 360.0)


@dataclass(frozen=True)
class GpsPoint:
    """Where the car was at one moment; `heading_deg` / `speed_mps` are None when the track cannot tell."""

    lat: float
    lon: float
    heading_deg: float | None
    speed_mps: float | None


def iso_utc(t: float) -> str:
    """Unix seconds as an ISO 8601 UTC string ('2024-05-01T08:00:00.000Z'), for messages and GPX files."""
    try:
        return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return f"{t} (Unix seconds)"


@dataclass(frozen=True)
class GpsTrack:
    """Fixes sorted by time, plus what the reader skipped (reason -> count) and where the track came from.

    Fixes sharing a time are merged into the first one (an NMEA receiver sends RMC and GGA for each epoch); the
    later ones only fill in a missing speed or heading. A track holds at least one fix.
    """

    fixes: tuple[GpsFix, ...]
    skip_reasons: dict[str, int] = field(default_factory=dict, hash=False)
    source: str = ""
    _times: FloatArray = field(init=False, repr=False, compare=False)
    _lats: FloatArray = field(init=False, repr=False, compare=False)
    _lons: FloatArray = field(init=False, repr=False, compare=False)
    _segment_m: FloatArray = field(init=False, repr=False, compare=False)
    _segment_heading: tuple[float | None, ...] = field(init=False, repr=False, compare=False)
    _known_heading: tuple[float | None, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        fixes = _merge_same_time(sorted(self.fixes, key=lambda f: f.time))
        if not fixes:
            raise ValueError("a GpsTrack needs at least one fix, got none")
        lats = np.array([f.lat for f in fixes], np.float64)
        lons = np.array([f.lon for f in fixes], np.float64)
        segment_m = haversine_array(lats[:-1], lons[:-1], lats[1:], lons[1:])
        segment_heading = tuple(
            bearing_deg(a.lat, a.lon, b.lat, b.lon) if d > MIN_MOVE_M else None
            for a, b, d in zip(fixes[:-1], fixes[1:], segment_m, strict=True)
        )
        known: list[float | None] = [fixes[0].heading_deg]
        for fix, moved in zip(fixes[1:], segment_heading, strict=True):
            known.append(next((h for h in (fix.heading_deg, moved, known[-1]) if h is not None), None))
        for name, value in (
            ("fixes", tuple(fixes)),
            ("skip_reasons", dict(self.skip_reasons)),
            ("_times", np.array([f.time for f in fixes], np.float64)),
            ("_lats", lats),
            ("_lons", lons),
            ("_segment_m", segment_m),
            ("_segment_heading", segment_heading),
            ("_known_heading", tuple(known)),
        ):
            object.__setattr__(self, name, value)

    @property
    def skipped(self) -> int:
        """How many records the reader skipped, all reasons together."""
        return sum(self.skip_reasons.values())

    @property
    def start(self) -> float:
        """Time of the first fix (Unix seconds)."""
        return float(self._times[0])

    @property
    def end(self) -> float:
        """Time of the last fix (Unix seconds)."""
        return float(self._times[-1])

    def __len__(self) -> int:
        return len(self.fixes)

    def position_at(self, t: float, tolerance_s: float = 0.0) -> GpsPoint:
        """Where the car was at Unix time `t`, interpolated between the two fixes around it.

        Heading is the bearing between those fixes when the car moved more than 0.5 m between them, else the
        nearest fix's own course, else the last heading known before `t` (None if there is none yet). Speed is
        distance / time of that pair. Times up to `tolerance_s` outside the track get its first or last position
        (pass the tolerance given to `check_covers`); further out raises `GpsCoverageError`.
        """
        if not math.isfinite(t):
            raise ValueError(f"t must be a finite Unix time, got {t}")
        if not self.start - tolerance_s <= t <= self.end + tolerance_s:
            raise GpsCoverageError(
                f"no GPS position at {iso_utc(t)}: {self._name}covers {iso_utc(self.start)}..{iso_utc(self.end)}"
            )
        if len(self.fixes) == 1:
            only = self.fixes[0]
            return GpsPoint(only.lat, only.lon, only.heading_deg, only.speed_mps)
        t = min(max(t, self.start), self.end)
        i = min(int(np.searchsorted(self._times, t, side="right")) - 1, len(self.fixes) - 2)
        t0, t1 = self._times[i], self._times[i + 1]
        share = float((t - t0) / (t1 - t0))
        a, b = self.fixes[i], self.fixes[i + 1]
        dlon = (b.lon - a.lon + 180.0) % 360.0 - 180.0  # the short way round, even across the antimeridian
        lat, lon = a.lat + share * (b.lat - a.lat), wrap_lon(a.lon + share * dlon)
        heading = self._segment_heading[i]
        if heading is None:
            nearest = a if share <= 0.5 else b
            heading = nearest.heading_deg if nearest.heading_deg is not None else self._known_heading[i]
        return GpsPoint(lat, lon, heading, float(self._segment_m[i] / (t1 - t0)))

    def check_covers(self, start: float, end: float, tolerance_s: float = 1.0) -> None:
        """Raise `GpsCoverageError` unless the track covers [start, end], give or take `tolerance_s` at each end."""
        if end < start or tolerance_s < 0:
            raise ValueError(f"expected start <= end and tolerance_s >= 0, got {start}, {end}, {tolerance_s}")
        late, early = self.start - start, end - self.end
        gaps = []
        if late > tolerance_s:
            gaps.append(f"starts {late:.1f} s late")
        if early > tolerance_s:
            gaps.append(f"ends {early:.1f} s early")
        if gaps:
            raise GpsCoverageError(
                f"{self._name}covers {iso_utc(self.start)}..{iso_utc(self.end)}, the video needs "
                f"{iso_utc(start)}..{iso_utc(end)} (the track {' and '.join(gaps)})"
            )

    def distance_between(self, t0: float, t1: float) -> float:
        """Metres travelled from `t0` to `t1` along the track (haversine over the fixes in between)."""
        if t1 < t0:
            raise ValueError(f"expected t0 <= t1, got {t0} > {t1}")
        first, last = self.position_at(t0), self.position_at(t1)
        inside = (self._times > t0) & (self._times < t1)
        lats = np.concatenate(([first.lat], self._lats[inside], [last.lat]))
        lons = np.concatenate(([first.lon], self._lons[inside], [last.lon]))
        return float(haversine_array(lats[:-1], lons[:-1], lats[1:], lons[1:]).sum())

    @staticmethod
    def project(point: GpsPoint, metres: float) -> GpsPoint:
        """`point` moved `metres` forward along its heading (negative: backward), e.g. to a sighting ahead."""
        if point.heading_deg is None:
            raise ValueError("cannot project a point without a heading (heading_deg is None)")
        lat, lon = destination(point.lat, point.lon, point.heading_deg, metres)
        return replace(point, lat=lat, lon=lon)

    @property
    def _name(self) -> str:
        return f"the GPS track {self.source} " if self.source else "the GPS track "


def _merge_same_time(fixes: list[GpsFix]) -> list[GpsFix]:
    merged: list[GpsFix] = []
    for fix in fixes:
        if merged and merged[-1].time == fix.time:
            kept = merged[-1]
            merged[-1] = replace(
                kept,
                speed_mps=kept.speed_mps if kept.speed_mps is not None else fix.speed_mps,
                heading_deg=kept.heading_deg if kept.heading_deg is not None else fix.heading_deg,
            )
        else:
            merged.append(fix)
    return merged
