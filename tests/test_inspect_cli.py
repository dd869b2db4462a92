"""`streetwatch inspect` on a simulated drive, and the bad inputs it must refuse or survive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datasets.drive import DriveSettings, simulate_drive
from models.registry import COCO_MODEL, versioned
from streetwatch.cli import app
from tests.conftest import REPO_ROOT
from vision.gps import GpsFix
from vision.sightings import verify_evidence
from vision.track_files import write_gpx

PHOTOS = ["garbage-cn__003113.jpg", "facades-spb__img_553.jpg"]


@pytest.fixture(scope="module")
def drive(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("inspect")
    photos = [REPO_ROOT / "samples" / "images" / name for name in PHOTOS]
    return simulate_drive(photos, tmp / "drive.mp4", tmp / "drive.gpx", DriveSettings(seconds_per_photo=2))


def _inspect(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["inspect", *args, "--model", COCO_MODEL])
    return result.exit_code, result.output


def test_inspect_writes_geotagged_sightings_with_evidence(drive, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    start = str(drive.start_time)  # the recording starts a second after the GPS log
    code, output = _inspect(
        str(drive.video), "--gps", str(drive.gpx), "--start", start, "--out", str(tmp_path), "--project-m", "5"
    )
    assert code == 0, output
    summary = json.loads((tmp_path / "summary.json").read_text())
    sightings = [json.loads(line) for line in (tmp_path / "sightings.jsonl").read_text().splitlines()]
    assert summary["sightings"] == len(sightings) > 0 and summary["frames_analysed"] == 20  # 4 s at 5 fps
    assert summary["detections"] > 3 * len(sightings)
    for sighting in sightings:
        assert verify_evidence(sighting)
        assert sighting["location"]["projected_m"] == 5 and sighting["location"]["heading_deg"] == pytest.approx(
            90, abs=1
        )
        assert drive.start_time <= sighting["best_time"] <= drive.start_time + 4
        assert sighting["model"] == versioned(COCO_MODEL)  # it once wrote "" for every sighting


def test_a_truncated_video_is_inspected_as_far_as_it_goes(drive, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(drive.video.read_bytes()[: drive.video.stat().st_size * 6 // 10])
    code, output = _inspect(str(cut), "--start", str(drive.start_time), "--out", str(tmp_path / "out"))
    if code == 0:  # the container's index survived: some frames decode
        assert json.loads((tmp_path / "out" / "summary.json").read_text())["frames_analysed"] < 20
    else:  # the mp4 index sits at the end: nothing decodable, said clearly
        assert code == 2 and "cut.mp4" in output


@pytest.mark.parametrize(
    ("gpx_fixes", "message"),
    [
        ([], "no usable gps fix"),
        ([(0, 31.0, 121.0), (1, 31.0001, 121.0)], "covers"),  # a track of the wrong day
    ],
)
def test_a_gps_track_that_cannot_place_the_video_is_refused(drive, tmp_path: Path, gpx_fixes, message) -> None:  # type: ignore[no-untyped-def]
    gpx = tmp_path / "bad.gpx"
    write_gpx([GpsFix(time=1_700_000_000 + t, lat=lat, lon=lon) for t, lat, lon in gpx_fixes], gpx)
    code, output = _inspect(
        str(drive.video), "--gps", str(gpx), "--start", str(drive.start_time), "--out", str(tmp_path / "out")
    )
    assert code == 2 and message in output.lower(), output


def test_a_file_that_is_not_a_video_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x01" * 5000)
    code, output = _inspect(str(junk), "--out", str(tmp_path / "out"))
    assert code == 2 and "junk.mp4" in output


def test_edge_queues_sightings_and_sends_each_once(drive, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.receiver import Receiver

    receiver = Receiver().start()
    try:
        result = CliRunner().invoke(
            app,
            ["edge", str(drive.video), "--server", receiver.base, "--outbox", str(tmp_path / "o.db"),
             "--evidence", str(tmp_path / "ev"), "--model", COCO_MODEL],
        )  # fmt: skip
    finally:
        receiver.stop()
    assert result.exit_code == 0, result.output
    assert "0 pending" in result.output and "0 rejected" in result.output
    assert len(receiver.posts) == len(set(receiver.posts)) > 0
    assert f"{len(receiver.posts)} sent" in result.output


def test_inspect_sends_its_sightings_to_the_server(drive, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.receiver import Receiver

    receiver = Receiver().start()
    try:
        code, output = _inspect(str(drive.video), "--start", str(drive.start_time), "--out", str(tmp_path),
                                "--server", receiver.url, "--api-key", "k1")  # fmt: skip
    finally:
        receiver.stop()
    assert code == 0, output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["server"] == {"pending": 0, "sent": summary["sightings"], "rejected": 0}
    assert len(receiver.posts) == len(set(receiver.posts)) == summary["sightings"] > 0
