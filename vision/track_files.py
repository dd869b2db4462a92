"""GPS track files: read GPX, NMEA 0183 or CSV into a `GpsTrack`, and write GPX.

Readers skip bad records (wrong checksum, no fix, unparsable values) and count them by reason instead of failing
the whole file; a file with no usable fix at all is an error that names the file.
"""

from __future__ import annotations

import csv
import logging
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TextIO, TypeVar

from vision.gps import GpsFix, GpsTrack, GpsTrackError

logger = logging.getLogger(__name__)

KNOTS_TO_MPS = 1852.0 / 3600.0
NMEA_SUFFIXES = (".nmea", ".nmea0183", ".txt")
TRACK_SUFFIXES = (".gpx", *NMEA_SUFFIXES, ".csv")

_T = TypeVar("_T")


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
