"""GPS tracks of a patrol car: read GPX, NMEA 0183 or CSV, and say where the car was at a frame's capture time.

A track is a time-sorted list of fixes. `GpsTrack.position_at` interpolates between the two fixes around a time,
so a 30 fps video gets a position per frame from a 1 Hz receiver. Readers skip bad records (wrong checksum, no
fix, unparsable values) and count them by reason instead of failing the whole file; a file with no usable fix at
all, or a time outside the track, is an error that names the file or the spans involved.
"""

from __future__ import annotations

import csv
import logging
import math
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TextIO, TypeVar

import numpy as np
import numpy.typing as npt

from vision.errors import StreetWatchError

logger = logging.getLogger(__name__)

EARTH_RADIUS_M = 6_371_008.8  # IUGG mean radius: 1 degree of latitude = 111.195 km
KNOTS_TO_MPS = 1852.0 / 3600.0
MIN_MOVE_M = 0.5  # below this between two fixes, their bearing is receiver noise, not the car's heading
LATEST_TIME = 4_102_444_800.0  # 2100-01-01: a larger "Unix time" is almost surely milliseconds
NMEA_SUFFIXES = (".nmea", ".nmea0183", ".txt")
TRACK_SUFFIXES = (".gpx", *NMEA_SUFFIXES, ".csv")

FloatArray = npt.NDArray[np.float64]
_T = TypeVar("_T")


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


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two points given in degrees."""
    return float(_haversine(*(np.asarray(v, np.float64) for v in (lat1, lon1, lat2, lon2))))


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial great-circle bearing from point 1 to point 2 in degrees: 0 = north, clockwise, in [0, 360)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dlon = math.radians(lon2 - lon1)
    y = math.sin(dlon) * math.cos(phi2)
    x = math.cos(phi1) * math.sin(phi2) - math.sin(phi1) * math.cos(phi2) * math.cos(dlon)
    return math.degrees(math.atan2(y, x)) % 360.0


def destination(lat: float, lon: float, heading_deg: float, metres: float) -> tuple[float, float]:
    """The point `metres` away from (lat, lon) along the great circle leaving at `heading_deg`."""
    phi, lam, theta = math.radians(lat), math.radians(lon), math.radians(heading_deg)
    delta = metres / EARTH_RADIUS_M
    phi2 = math.asin(math.sin(phi) * math.cos(delta) + math.cos(phi) * math.sin(delta) * math.cos(theta))
    lam2 = lam + math.atan2(
        math.sin(theta) * math.sin(delta) * math.cos(phi), math.cos(delta) - math.sin(phi) * math.sin(phi2)
    )
    return math.degrees(phi2), _wrap_lon(math.degrees(lam2))


def _haversine(lat1: FloatArray, lon1: FloatArray, lat2: FloatArray, lon2: FloatArray) -> FloatArray:
    phi1, phi2 = np.radians(lat1), np.radians(lat2)
    a = np.sin((phi2 - phi1) / 2) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))), np.float64)


def _wrap_lon(lon: float) -> float:
    return (lon + 180.0) % 360.0 - 180.0 if not -180.0 <= lon <= 180.0 else lon


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
        segment_m = _haversine(lats[:-1], lons[:-1], lats[1:], lons[1:])
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
        lat, lon = a.lat + share * (b.lat - a.lat), _wrap_lon(a.lon + share * dlon)
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
        return float(_haversine(lats[:-1], lons[:-1], lats[1:], lons[1:]).sum())

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


class _Skip(Exception):
    """One record is unusable for `reason`; the reader counts it and goes on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_track(path: Path | str) -> GpsTrack:
    """Read a GPS track, choosing the reader by suffix: .gpx, .nmea/.nmea0183/.txt (NMEA 0183) or .csv."""
    suffix = Path(path).suffix.lower()
    if suffix == ".gpx":
        return read_gpx(path)
    if suffix in NMEA_SUFFIXES:
        return read_nmea(path)
    if suffix == ".csv":
        return read_csv(path)
    raise GpsTrackError(f"{path}: unknown GPS track type {suffix or '(no suffix)'!r}; expected one of {TRACK_SUFFIXES}")


def read_gpx(path: Path | str) -> GpsTrack:
    """Read the `trkpt`s of a GPX 1.0 or 1.1 file (any namespace); points without time or position are skipped.

    Speed (m/s) and course are taken from GPX 1.0 `<speed>`/`<course>` or same-named extension elements.
    """
    file = _existing(path)
    try:
        root = ET.parse(file).getroot()
    except ET.ParseError as error:
        raise GpsTrackError(f"{file}: not a readable GPX file ({error})") from error
    except OSError as error:
        raise GpsTrackError(f"{file}: cannot read the GPS track ({error.strerror})") from error
    return _collect(file, "GPX", (_attempt(_gpx_fix, p) for p in root.iter() if _local(p.tag) == "trkpt"))


def read_nmea(path: Path | str) -> GpsTrack:
    """Read the GGA and RMC sentences (any talker) of an NMEA 0183 log; other lines are ignored.

    Skipped and counted: a wrong or missing checksum ('checksum'), a missing or bad field ('malformed'), a void
    RMC or a GGA of fix quality 0 ('no fix'), a GGA before the first valid RMC gave the date ('no date').
    """
    file = _existing(path)
    with _open(file) as lines:
        return _collect(file, "NMEA", _nmea_fixes(lines))


def read_csv(path: Path | str) -> GpsTrack:
    """Read a CSV with a header row: `time` (Unix seconds or ISO 8601), `lat`, `lon`, optional `speed`, `heading`.

    Column names are case-insensitive; `timestamp`, `latitude`, `longitude` and `lng` are accepted too. Rows with
    unparsable or out-of-range values are skipped and counted.
    """
    file = _existing(path)
    with _open(file) as lines:
        rows = csv.reader(lines)
        header = next(rows, None)
        if header is None:
            raise GpsTrackError(f"{file}: empty CSV file, expected a header row with time, lat, lon")
        columns = _csv_columns(file, header)
        return _collect(
            file,
            "CSV",
            (_attempt(partial(_csv_fix, columns=columns), row) for row in rows if any(v.strip() for v in row)),
        )


def write_gpx(track: GpsTrack | Iterable[GpsFix], path: Path | str) -> Path:
    """Write fixes as a GPX 1.1 track (speed and course in Garmin TrackPointExtension v2); returns the path."""
    fixes = track.fixes if isinstance(track, GpsTrack) else tuple(track)
    points = []
    for fix in fixes:
        extras = [f"<gpxtpx:{name}>{value:.3f}</gpxtpx:{name}>" for name, value in _motion(fix) if value is not None]
        extension = (
            f"<extensions><gpxtpx:TrackPointExtension>{''.join(extras)}</gpxtpx:TrackPointExtension></extensions>"
            if extras
            else ""
        )
        time = datetime.fromtimestamp(fix.time, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        points.append(f'      <trkpt lat="{fix.lat:.9f}" lon="{fix.lon:.9f}"><time>{time}</time>{extension}</trkpt>')
    text = "\n".join(
        [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<gpx version="1.1" creator="StreetWatch" xmlns="http://www.topografix.com/GPX/1/1"'
            ' xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v2">',
            "  <trk>",
            "    <trkseg>",
            *points,
            "    </trkseg>",
            "  </trk>",
            "</gpx>",
            "",
        ]
    )
    file = Path(path)
    file.write_text(text, encoding="utf-8")
    return file


def _motion(fix: GpsFix) -> tuple[tuple[str, float | None], ...]:
    return (("speed", fix.speed_mps), ("course", fix.heading_deg))


def _existing(path: Path | str) -> Path:
    file = Path(path)
    if not file.is_file():
        raise GpsTrackError(f"{file}: no such GPS track file")
    return file


def _open(file: Path) -> TextIO:
    try:
        # utf-8-sig: spreadsheet exports start with a byte-order mark; 'replace': logs may hold binary noise
        return file.open(encoding="utf-8-sig", errors="replace", newline="")
    except OSError as error:
        raise GpsTrackError(f"{file}: cannot read the GPS track ({error.strerror})") from error


def _attempt(parse: Callable[[_T], GpsFix], record: _T) -> GpsFix | str:
    """The fix parsed from `record`, or the reason it was skipped."""
    try:
        return parse(record)
    except _Skip as skip:
        return skip.reason


def _collect(file: Path, kind: str, records: Iterable[GpsFix | str]) -> GpsTrack:
    """Gather a reader's fixes and skip reasons into a track; an empty result is an error, skips one warning."""
    fixes: list[GpsFix] = []
    reasons: Counter[str] = Counter()
    for record in records:
        if isinstance(record, str):
            reasons[record] += 1
        else:
            fixes.append(record)
    summary = ", ".join(f"{reason} {count}" for reason, count in sorted(reasons.items()))
    if not fixes:
        detail = f"skipped {reasons.total()}: {summary}" if reasons else "it holds no track points"
        raise GpsTrackError(f"{file}: no usable GPS fix in this {kind} file ({detail})")
    if reasons:
        total = reasons.total() + len(fixes)
        logger.warning("%s: skipped %d of %d GPS records (%s)", file, reasons.total(), total, summary)
    return GpsTrack(tuple(fixes), dict(reasons), str(file))


def _fix(time: float, lat: float, lon: float, speed: float | None = None, heading: float | None = None) -> GpsFix:
    try:
        return GpsFix(time, lat, lon, speed, heading)
    except ValueError as error:
        raise _Skip("out of range") from error


def _number(text: str | None) -> float:
    try:
        return float((text or "").strip())
    except ValueError:
        raise _Skip("malformed") from None


def _optional(text: str | None) -> float | None:
    return _number(text) if text and text.strip() else None


def _iso_time(text: str) -> float:
    """ISO 8601 ('Z' or an offset, any fraction) to Unix seconds; a time without a zone is taken as UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise _Skip("malformed") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _gpx_fix(point: ET.Element) -> GpsFix:
    children = {_local(child.tag): child.text for child in point.iter() if child is not point}
    if not (children.get("time") or "").strip():
        raise _Skip("no time")
    lat, lon = _number(point.get("lat")), _number(point.get("lon"))
    return _fix(
        _iso_time(children["time"] or ""), lat, lon, _optional(children.get("speed")), _optional(children.get("course"))
    )


_NMEA_SENTENCE = re.compile(r"[A-Z]{2}(GGA|RMC)")


def _nmea_fixes(lines: Iterable[str]) -> Iterator[GpsFix | str]:
    """GGA/RMC fixes or skip reasons, in file order; GGA takes its date from the latest valid RMC."""
    day: tuple[date, float] | None = None  # (date, time of day) of the latest valid RMC
    for line in lines:
        try:
            sentence = _nmea_sentence(line)
            if sentence is None:
                continue
            kind, fields = sentence
            if kind == "RMC":
                fix, day = _rmc_fix(fields)
            else:
                fix = _gga_fix(fields, day)
            yield fix
        except _Skip as skip:
            yield skip.reason


def _nmea_sentence(line: str) -> tuple[str, list[str]] | None:
    """(GGA or RMC, fields) of a checksum-verified sentence; None for a line that is no GGA/RMC sentence."""
    start = line.find("$")
    if start < 0:
        return None
    body, star, checksum = line[start + 1 :].rstrip().partition("*")
    fields = body.split(",")
    match = _NMEA_SENTENCE.fullmatch(fields[0])
    if match is None:
        return None
    expected = 0
    for char in body:
        expected ^= ord(char)
    if not star or not re.fullmatch(r"[0-9A-Fa-f]{2}", checksum) or int(checksum, 16) != expected:
        raise _Skip("checksum")
    return match.group(1), fields


def _rmc_fix(fields: list[str]) -> tuple[GpsFix, tuple[date, float]]:
    """$xxRMC,hhmmss.ss,A,ddmm.mm,N,dddmm.mm,E,knots,course,ddmmyy,...: a fix and the (date, time of day)."""
    if len(fields) < 10:
        raise _Skip("malformed")
    if fields[2] == "V":
        raise _Skip("no fix")
    if fields[2] != "A":
        raise _Skip("malformed")
    seconds, day = _time_of_day(fields[1]), _nmea_date(fields[9])
    lat, lon = _nmea_angle(fields[3], fields[4], "NS"), _nmea_angle(fields[5], fields[6], "EW")
    knots = _optional(fields[7])
    speed = None if knots is None else knots * KNOTS_TO_MPS
    fix = _fix(_unix(day, seconds), lat, lon, speed, _optional(fields[8]))
    return fix, (day, seconds)


def _gga_fix(fields: list[str], day: tuple[date, float] | None) -> GpsFix:
    """$xxGGA,hhmmss.ss,ddmm.mm,N,dddmm.mm,E,quality,...: a fix dated by the latest RMC."""
    if len(fields) < 7 or not fields[6].strip().isdigit():
        raise _Skip("malformed")
    if int(fields[6]) == 0:
        raise _Skip("no fix")
    if day is None:
        raise _Skip("no date")
    seconds = _time_of_day(fields[1])
    lat, lon = _nmea_angle(fields[2], fields[3], "NS"), _nmea_angle(fields[4], fields[5], "EW")
    rmc_date, rmc_seconds = day
    if seconds < rmc_seconds - 43_200:  # the GGA is past midnight UTC, the latest RMC was before it
        rmc_date += timedelta(days=1)
    return _fix(_unix(rmc_date, seconds), lat, lon)


def _time_of_day(text: str) -> float:
    """hhmmss(.sss) to seconds since midnight."""
    if not re.fullmatch(r"\d{6}(\.\d+)?", text):
        raise _Skip("malformed")
    hours, minutes, seconds = int(text[:2]), int(text[2:4]), float(text[4:])
    if hours > 23 or minutes > 59 or seconds >= 61:  # 60.x: a leap second
        raise _Skip("malformed")
    return hours * 3600 + minutes * 60 + seconds


def _nmea_date(text: str) -> date:
    """ddmmyy to a date (years 80-99 are 19xx, as NMEA's two-digit year has been read since GPS began)."""
    if not re.fullmatch(r"\d{6}", text):
        raise _Skip("malformed")
    year = int(text[4:])
    try:
        return date(year + (1900 if year >= 80 else 2000), int(text[2:4]), int(text[:2]))
    except ValueError:
        raise _Skip("malformed") from None


def _nmea_angle(text: str, hemisphere: str, signs: str) -> float:
    """ddmm.mmmm (latitude) or dddmm.mmmm (longitude) plus N/S or E/W to signed degrees."""
    if not re.fullmatch(r"\d{4,5}(\.\d+)?", text) or hemisphere not in signs:
        raise _Skip("malformed")
    value = float(text)
    degrees, minutes = divmod(value, 100.0)
    if minutes >= 60.0:
        raise _Skip("malformed")
    angle = degrees + minutes / 60.0
    return -angle if hemisphere == signs[1] else angle


def _unix(day: date, seconds_of_day: float) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() + seconds_of_day


_CSV_NAMES = {
    "time": ("time", "timestamp"),
    "lat": ("lat", "latitude"),
    "lon": ("lon", "lng", "longitude"),
    "speed": ("speed", "speed_mps"),
    "heading": ("heading", "heading_deg"),
}


def _csv_columns(file: Path, header: list[str]) -> dict[str, int]:
    """Column index of each known field, by case-insensitive name or alias; the first three are required."""
    names = [name.strip().lower() for name in header]
    # aliases reversed: where a file has both, the first alias listed (the short name) wins
    columns = {
        key: names.index(alias) for key, aliases in _CSV_NAMES.items() for alias in aliases[::-1] if alias in names
    }
    missing = [key for key in ("time", "lat", "lon") if key not in columns]
    if missing:
        raise GpsTrackError(
            f"{file}: CSV header {header} lacks {missing}; expected columns time (or timestamp), "
            "lat (or latitude), lon (or lng, longitude), optional speed (m/s) and heading (degrees)"
        )
    return columns


def _csv_fix(row: list[str], *, columns: dict[str, int]) -> GpsFix:
    values = {key: row[index] if index < len(row) else "" for key, index in columns.items()}
    time_text = values["time"].strip()
    try:
        time = float(time_text)
    except ValueError:
        time = _iso_time(time_text)
    return _fix(
        time,
        _number(values["lat"]),
        _number(values["lon"]),
        _optional(values.get("speed")),
        _optional(values.get("heading")),
    )
