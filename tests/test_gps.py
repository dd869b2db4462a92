from __future__ import annotations

import logging
from pathlib import Path

import pytest

from vision.errors import StreetWatchError
from vision.geodesy import bearing_deg, haversine_m
from vision.gps import GpsCoverageError, GpsFix, GpsPoint, GpsTrack, GpsTrackError
from vision.track_files import KNOTS_TO_MPS, read_track, write_gpx

T0 = 1_714_550_400.0  # 2024-05-01T08:00:00Z
STEP_DEG = 0.0001  # per second: 11.12 m/s, about 40 km/h
STEP_M = 11.1195


def _straight_track(seconds: int = 100, north: bool = True) -> list[GpsFix]:
    """A car going straight north (or east along the equator) at 0.0001 degree per second, one fix a second."""
    if north:
        return [GpsFix(T0 + i, 31.0 + STEP_DEG * i, 121.0) for i in range(seconds + 1)]
    return [GpsFix(T0 + i, 0.0, 121.0 + STEP_DEG * i) for i in range(seconds + 1)]


def _nmea(body: str) -> str:
    """A sentence with its correct checksum: XOR of the characters between '$' and '*'."""
    checksum = 0
    for char in body:
        checksum ^= ord(char)
    return f"${body}*{checksum:02X}"


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- GPX ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("north", "heading"), [(True, 0.0), (False, 90.0)])
def test_gpx_round_trip_interpolates_position_heading_and_speed(tmp_path: Path, north: bool, heading: float) -> None:
    fixes = _straight_track(north=north)
    track = read_track(write_gpx(fixes, tmp_path / "patrol.gpx"))
    assert len(track) == 101 and track.skipped == 0 and track.skip_reasons == {}
    assert track.start == T0 and track.end == T0 + 100
    point = track.position_at(T0 + 10.5)
    expected = _straight_track(north=north)
    mid_lat = (expected[10].lat + expected[11].lat) / 2
    mid_lon = (expected[10].lon + expected[11].lon) / 2
    assert point.lat == pytest.approx(mid_lat, abs=1e-9) and point.lon == pytest.approx(mid_lon, abs=1e-9)
    assert point.heading_deg == pytest.approx(heading, abs=0.01)
    # east along the equator and north both move 0.0001 degree of a great circle per second
    assert point.speed_mps == pytest.approx(STEP_M, rel=1e-3)


def test_gpx_round_trip_keeps_speed_course_and_sub_second_times(tmp_path: Path) -> None:
    fixes = [GpsFix(T0 + 0.25, 31.0, 121.0, 8.5, 359.0), GpsFix(T0 + 1.75, 31.0001, 121.0, None, 1.5)]
    track = read_track(write_gpx(GpsTrack(tuple(fixes)), tmp_path / "moving.GPX"))
    assert [f.time for f in track.fixes] == [T0 + 0.25, T0 + 1.75]
    assert track.fixes[0].speed_mps == pytest.approx(8.5) and track.fixes[0].heading_deg == pytest.approx(359.0)
    assert track.fixes[1].speed_mps is None and track.fixes[1].heading_deg == pytest.approx(1.5)


GPX_POINTS = """
  <trk><trkseg>
    <trkpt lat="31.0000" lon="121.0000"><time>2024-05-01T08:00:00Z</time><speed>11.1</speed><course>0</course></trkpt>
    <trkpt lat="31.0001" lon="121.0000"><time>2024-05-01T16:00:01.500+08:00</time></trkpt>
    <trkpt lat="31.0002" lon="121.0000"></trkpt>
    <trkpt lat="north" lon="121.0000"><time>2024-05-01T08:00:03Z</time></trkpt>
    <trkpt lat="95.0" lon="121.0000"><time>2024-05-01T08:00:04Z</time></trkpt>
  </trkseg></trk>
"""


@pytest.mark.parametrize(
    "opening",
    [
        '<gpx version="1.0" creator="logger" xmlns="http://www.topografix.com/GPX/1/0">',
        '<gpx version="1.1" creator="logger" xmlns="http://www.topografix.com/GPX/1/1">',
        "<gpx>",
    ],
    ids=["gpx-1.0", "gpx-1.1", "no-namespace"],
)
def test_gpx_namespaces_and_bad_points(tmp_path: Path, opening: str, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "logger.gpx"
    path.write_text(f'<?xml version="1.0"?>\n{opening}{GPX_POINTS}</gpx>\n', encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="vision.track_files"):
        track = read_track(path)
    assert [f.time for f in track.fixes] == [T0, T0 + 1.5]
    assert track.fixes[0].speed_mps == pytest.approx(11.1) and track.fixes[0].heading_deg == 0.0
    assert track.skip_reasons == {"no time": 1, "malformed": 1, "out of range": 1} and track.skipped == 3
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "skipped 3 of 5" in warnings[0].getMessage()


def test_unparsable_gpx_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cut.gpx"
    path.write_text('<gpx><trk><trkseg><trkpt lat="31"', encoding="utf-8")
    with pytest.raises(GpsTrackError, match="not a readable GPX file") as info:
        read_track(path)
    assert str(path) in str(info.value)


# --- NMEA --------------------------------------------------------------------------------------------------------


def test_nmea_textbook_sentences_pass_the_checksum(tmp_path: Path) -> None:
    # the classic examples of the NMEA references, checksums as printed there
    path = _write(
        tmp_path / "textbook.nmea",
        [
            "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A",
            "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47",
        ],
    )
    track = read_track(path)
    assert track.skipped == 0 and len(track) == 1  # both passed the checksum, same epoch: one fix
    rmc = track.fixes[0]
    assert rmc.time == 764426119.0  # 1994-03-23T12:35:19Z
    assert rmc.lat == pytest.approx(48 + 7.038 / 60) and rmc.lon == pytest.approx(11 + 31.0 / 60)
    assert rmc.speed_mps == pytest.approx(22.4 * 0.514444, rel=1e-5) and rmc.heading_deg == pytest.approx(84.4)


def test_nmea_rmc_and_gga_give_positions_and_speed(tmp_path: Path) -> None:
    lines = [
        _nmea("GNRMC,080000.00,A,3100.0000,N,12100.0000,E,21.6,0.0,010524,,,A"),
        _nmea("GNGGA,080000.00,3100.0000,N,12100.0000,E,1,12,0.8,10.0,M,8.0,M,,"),  # same epoch: merged
        _nmea("GPGSV,3,1,12,01,40,083,46,02,17,308,41,12,07,344,39,14,22,228,45"),  # ignored
        "",
        _nmea("GNGGA,080001.00,3100.0060,N,12100.0000,E,2,12,0.8,10.0,M,8.0,M,,"),
        _nmea("GNRMC,080002.00,A,3100.0120,S,12100.0000,W,21.6,180.0,010524,,,A"),
    ]
    track = read_track(_write(tmp_path / "drive.nmea0183", lines))
    assert track.skipped == 0 and [f.time for f in track.fixes] == [T0, T0 + 1, T0 + 2]
    assert track.fixes[0].speed_mps == pytest.approx(21.6 * KNOTS_TO_MPS) and track.fixes[0].heading_deg == 0.0
    assert track.fixes[1].lat == pytest.approx(31.0001) and track.fixes[1].speed_mps is None
    assert track.fixes[2].lat == pytest.approx(-31.0002) and track.fixes[2].lon == pytest.approx(-121.0)
    point = track.position_at(T0 + 0.5)
    assert point.lat == pytest.approx(31.00005) and point.heading_deg == pytest.approx(0.0, abs=1e-6)
    assert point.speed_mps == pytest.approx(STEP_M, rel=1e-3)


def test_nmea_bad_sentences_are_skipped_and_counted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    good_rmc = _nmea("GPRMC,080001.00,A,3100.0060,N,12100.0000,E,21.6,0.0,010524,,,A")
    lines = [
        _nmea("GPGGA,080000.00,3100.0000,N,12100.0000,E,1,08,0.9,10.0,M,8.0,M,,"),  # no date yet
        good_rmc,
        good_rmc.replace("080001.00", "080002.00"),  # body changed, checksum not: checksum
        _nmea("GPRMC,080003.00,V,,,,,,,010524,,,N"),  # void: no fix
        _nmea("GPGGA,080004.00,,,,,0,00,99.9,,,,,,"),  # quality 0: no fix
        _nmea("GPGGA,080005.00,3100.0300,N"),  # fields missing: malformed
        _nmea("GPRMC,080006.00,A,3100.0360,X,12100.0000,E,21.6,0.0,010524,,,A"),  # bad hemisphere: malformed
        "GPRMC without a dollar sign is just text",
        _nmea("GPGGA,080007.00,3100.0420,N,12100.0000,E,1,08,0.9,10.0,M,8.0,M,,"),
    ]
    with caplog.at_level(logging.WARNING, logger="vision.track_files"):
        track = read_track(_write(tmp_path / "noisy.txt", lines))
    assert [f.time for f in track.fixes] == [T0 + 1, T0 + 7]
    assert track.skip_reasons == {"no date": 1, "checksum": 1, "no fix": 2, "malformed": 2}
    assert track.skipped == 6
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "skipped 6 of 8" in warnings[0].getMessage()


def test_nmea_gga_after_midnight_takes_the_next_day(tmp_path: Path) -> None:
    lines = [
        _nmea("GPRMC,235959.00,A,3100.0000,N,12100.0000,E,0.0,,300424,,,A"),
        _nmea("GPGGA,000001.00,3100.0000,N,12100.0000,E,1,08,0.9,10.0,M,8.0,M,,"),
    ]
    track = read_track(_write(tmp_path / "midnight.nmea", lines))
    assert [f.time for f in track.fixes] == [T0 - 8 * 3600 - 1, T0 - 8 * 3600 + 1]


# --- CSV ---------------------------------------------------------------------------------------------------------


def test_csv_iso_and_unix_times_alias_columns_and_bad_rows(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "\ufeffTimestamp, Latitude ,LNG,Speed,Heading\n"
        "2024-05-01T08:00:00Z,31.0,121.0,11.1,0\n"
        "2024-05-01T16:00:01.5+08:00,31.00015,121.0,,\n"
        f"{T0 + 3},31.0003,121.0,11.1,360\n"
        "\n"
        "yesterday,31.0004,121.0,,\n"
        f"{T0 + 5},95.0,121.0,,\n"
        f"{(T0 + 6) * 1000},31.0006,121.0,,\n",
        encoding="utf-8",
    )
    with caplog.at_level(logging.WARNING, logger="vision.track_files"):
        track = read_track(path)
    assert [f.time for f in track.fixes] == [T0, T0 + 1.5, T0 + 3]
    assert track.fixes[0].speed_mps == pytest.approx(11.1) and track.fixes[2].heading_deg == 0.0
    assert track.fixes[1].speed_mps is None and track.fixes[1].heading_deg is None
    assert track.skip_reasons == {"malformed": 1, "out of range": 2}  # 95° latitude; milliseconds, not seconds
    assert sum("skipped 3 of 6" in r.getMessage() for r in caplog.records) == 1


def test_csv_without_required_columns_says_which(tmp_path: Path) -> None:
    path = tmp_path / "partial.csv"
    path.write_text("time,altitude,lon\n1714550400,12,121\n", encoding="utf-8")
    with pytest.raises(GpsTrackError, match=r"lacks \['lat'\]"):
        read_track(path)


# --- unusable files ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("empty.gpx", None, "holds no track points"),
        ("empty.nmea", "", "holds no track points"),
        ("sky-only.nmea", _nmea("GPGSV,1,1,01,01,40,083,46") + "\n", "holds no track points"),
        (
            "all-bad.nmea",
            "$GPRMC,080000,A*00\n" + _nmea("GPRMC,080001,V,,,,,,,010524,,") + "\n",
            "checksum 1, no fix 1",
        ),
        ("empty.csv", "", "empty CSV file"),
        ("header-only.csv", "time,lat,lon\n", "holds no track points"),
        ("track.kml", "<kml/>", "unknown GPS track type '.kml'"),
    ],
)
def test_unusable_files_raise_track_error_naming_path_and_cause(
    tmp_path: Path, name: str, text: str | None, message: str
) -> None:
    path = tmp_path / name
    if text is None:
        write_gpx([], path)
    else:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(GpsTrackError, match=message) as info:
        read_track(path)
    assert str(path) in str(info.value) and isinstance(info.value, StreetWatchError)


def test_missing_file_is_a_track_error(tmp_path: Path) -> None:
    with pytest.raises(GpsTrackError, match="no such GPS track file"):
        read_track(tmp_path / "nowhere.gpx")


# --- coverage ----------------------------------------------------------------------------------------------------


def test_coverage_error_names_both_spans() -> None:
    track = GpsTrack(tuple(_straight_track()), source="patrol.gpx")
    with pytest.raises(GpsCoverageError) as info:
        track.check_covers(T0 - 30, T0 + 90)
    message = str(info.value)
    assert "patrol.gpx covers 2024-05-01T08:00:00.000Z..2024-05-01T08:01:40.000Z" in message
    assert "the video needs 2024-05-01T07:59:30.000Z..2024-05-01T08:01:30.000Z" in message
    assert "starts 30.0 s late" in message


def test_coverage_tolerance_and_position_outside_the_track() -> None:
    track = GpsTrack(tuple(_straight_track()))
    track.check_covers(T0 - 0.9, T0 + 100.9)  # within the default 1 s at each end
    with pytest.raises(GpsCoverageError, match=r"ends 2\.0 s early"):
        track.check_covers(T0, T0 + 102)
    first = track.position_at(T0 - 0.5, tolerance_s=1.0)
    assert (first.lat, first.lon) == (31.0, 121.0)
    with pytest.raises(GpsCoverageError, match=r"no GPS position at 2024-05-01T08:01:41\.000Z.*covers 2024-05-01T08"):
        track.position_at(T0 + 101)


# --- heading, distance, geometry ---------------------------------------------------------------------------------


def test_heading_when_the_car_stands_still() -> None:
    fixes = (
        GpsFix(T0, 31.0, 121.0),
        GpsFix(T0 + 1, 31.0, 121.0 + STEP_DEG),  # driving east
        GpsFix(T0 + 2, 31.0, 121.0 + STEP_DEG),  # stopped, no course reported
        GpsFix(T0 + 3, 31.000001, 121.0 + STEP_DEG, 0.0, 200.0),  # 0.1 m jitter, the receiver's own course
    )
    track = GpsTrack(fixes)
    assert track.position_at(T0 + 0.5).heading_deg == pytest.approx(90.0, abs=0.01)  # bearing of the move
    assert track.position_at(T0 + 1.5).heading_deg == pytest.approx(90.0, abs=0.01)  # last known heading
    assert track.position_at(T0 + 1.5).speed_mps == 0.0
    assert track.position_at(T0 + 2.9).heading_deg == 200.0  # the nearest fix's own heading, not the jitter


def test_single_fix_track_and_merged_duplicate_times() -> None:
    track = GpsTrack((GpsFix(T0, 31.0, 121.0, 3.0, 45.0), GpsFix(T0, 31.5, 121.5, 9.0, 90.0)))
    assert len(track) == 1 and track.fixes[0].lat == 31.0
    assert track.position_at(T0) == GpsPoint(31.0, 121.0, 45.0, 3.0)


def test_distance_along_a_straight_100_second_track() -> None:
    track = GpsTrack(tuple(_straight_track(100)))
    assert track.distance_between(T0, T0 + 100) == pytest.approx(1112.0, rel=0.01)
    assert track.distance_between(T0 + 10.5, T0 + 20.5) == pytest.approx(10 * STEP_M, rel=1e-3)
    assert track.distance_between(T0 + 7, T0 + 7) == 0.0


def test_haversine_and_bearing_sanity() -> None:
    assert haversine_m(0.0, 0.0, 1.0, 0.0) == pytest.approx(111_195, rel=1e-4)  # 1 degree of latitude
    assert haversine_m(31.0, 121.0, 31.0, 121.0) == 0.0
    assert bearing_deg(0.0, 0.0, 1.0, 0.0) == pytest.approx(0.0)
    assert bearing_deg(0.0, 0.0, 0.0, 1.0) == pytest.approx(90.0)
    assert bearing_deg(0.0, 0.0, 0.0, -1.0) == pytest.approx(270.0)


@pytest.mark.parametrize("heading", [0.0, 45.0, 270.0])
def test_project_moves_along_the_heading(heading: float) -> None:
    start = GpsPoint(31.0, 121.0, heading, 11.0)
    ahead = GpsTrack.project(start, 10.0)
    assert haversine_m(start.lat, start.lon, ahead.lat, ahead.lon) == pytest.approx(10.0, rel=1e-6)
    assert bearing_deg(start.lat, start.lon, ahead.lat, ahead.lon) == pytest.approx(heading, abs=1e-3)
    assert (ahead.heading_deg, ahead.speed_mps) == (heading, 11.0)
    if heading == 0.0:
        assert ahead.lat > start.lat and ahead.lon == pytest.approx(start.lon)


def test_project_without_heading_and_invalid_fixes_are_value_errors() -> None:
    with pytest.raises(ValueError, match="without a heading"):
        GpsTrack.project(GpsPoint(31.0, 121.0, None, None), 10.0)
    with pytest.raises(ValueError, match=r"lat must be within \[-90, 90\]"):
        GpsFix(T0, 91.0, 121.0)
    with pytest.raises(ValueError, match="at least one fix"):
        GpsTrack(())
