"""The inspection pipeline on a simulated drive made of real street photos: one sighting per object, not per frame."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from datasets.drive import DriveSettings, simulate_drive
from models.registry import COCO_MODEL, load_detector
from tests.conftest import REPO_ROOT
from vision.detections import Detections
from vision.frames import VideoFileSource, sample_by_time
from vision.nms import box_iou
from vision.pipeline import run_pipeline
from vision.sightings import Location, SightingAggregator, SightingSettings, verify_evidence
from vision.track_files import read_track
from vision.tracking import ByteTracker, TrackerSettings, distinct_boxes

CLEAR = 0.5  # an object the model finds at least this sure in the still photo must become a sighting
PHOTOS = ["garbage-cn__000053.jpg", "garbage-cn__001423.jpg", "garbage-cn__003113.jpg", "facades-spb__img_176.jpg",
          "facades-spb__img_553.jpg", "garbage-street__img290.jpg"]  # fmt: skip


@pytest.fixture(scope="module")
def drive_run(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("drive")
    detector = load_detector(COCO_MODEL)
    photos = [REPO_ROOT / "samples" / "images" / name for name in PHOTOS]
    drive = simulate_drive(photos, tmp / "drive.mp4", tmp / "drive.gpx", DriveSettings(fps=10, seconds_per_photo=3))
    source = VideoFileSource(drive.video, start_time=drive.start_time)
    # What is there to see: the model's detections on the middle frame of each photo's segment (the objects as
    # big as the footage shows them), one per physical object, in the photo's pixels.
    middles = {len(drive.views) * (2 * i + 1) // (2 * len(photos)): i for i in range(len(photos))}
    stills: list[Detections] = [Detections.empty()] * len(photos)
    for frame in source:
        if frame.index in middles:
            found = detector.detect(frame.image)
            found = found[distinct_boxes(found.xyxy.astype(np.float64), found.confidence.astype(np.float64), 0.8)]
            view = drive.views[frame.index]
            stills[middles[frame.index]] = Detections(view.to_photo(found.xyxy), found.confidence, found.class_id)
    track = read_track(drive.gpx)
    track.check_covers(drive.start_time, drive.start_time + drive.frames / drive.fps)

    def locate(t: float) -> Location:
        point = track.position_at(t, tolerance_s=1.0)
        return Location(point.lat, point.lon, point.heading_deg)

    aggregator = SightingAggregator(
        tmp / "evidence", detector.class_names, SightingSettings(min_hits=3), locate, "drive"
    )
    sightings: list = []
    stats = run_pipeline(sample_by_time(source, 5.0), detector, ByteTracker(), aggregator, sightings.append)
    return drive, stills, sightings, stats, track


def _same_object_pairs(seen: list[tuple[str, npt.NDArray[np.float64]]]) -> list[tuple[int, int]]:
    """Pairs of sightings (indices into `seen`) of one class whose photo boxes overlap with IoU >= 0.5."""
    boxes = np.array([box for _, box in seen], np.float64)
    overlaps = np.triu(box_iou(boxes, boxes, np.float64) >= 0.5, k=1)
    return [(int(i), int(j)) for i, j in zip(*np.nonzero(overlaps), strict=True) if seen[i][0] == seen[j][0]]


def test_one_sighting_per_object_not_per_frame(drive_run) -> None:  # type: ignore[no-untyped-def]
    """Every object the model is sure of becomes a sighting, and no object becomes two.

    What is "there" is judged in the photo each segment pans across: each sighting's best box maps back into it.
    The count of sightings is not bounded by the objects found in one still frame: an object the model reports
    only while the camera zooms in is a real sighting too (which ones those are moves with the decoder's and the
    detector's last bits, e.g. between OpenCV builds). A duplicate is what the promise forbids: two sightings of
    one class in one segment whose boxes overlap (IoU >= 0.5) in the photo.
    """
    drive, stills, sightings, stats, _ = drive_run
    clear_objects = {(i, j) for i, s in enumerate(stills) for j in np.nonzero(s.confidence >= CLEAR)[0]}
    assert len(clear_objects) >= 10
    assert stats.detections > 4 * len(sightings)  # many detections per object, one sighting each
    in_photo: dict[int, list[tuple[str, npt.NDArray[np.float64]]]] = {}
    matched: set[tuple[int, int]] = set()
    for sighting in sightings:
        view = drive.view_at(sighting.best_time)
        box = view.to_photo(np.array(sighting.box))
        in_photo.setdefault(view.segment, []).append((sighting.class_name, box[0]))
        iou = box_iou(box, stills[view.segment].xyxy, np.float64)[0]
        if len(iou) and iou.max() >= 0.5:
            matched.add((view.segment, int(iou.argmax())))
        segment = drive.segments[view.segment]
        assert segment.start - 0.01 <= sighting.first_time and sighting.last_time <= segment.end + 0.01  # no merge
        assert sighting.frames >= 3
    duplicates = [(segment, pair) for segment, seen in in_photo.items() for pair in _same_object_pairs(seen)]
    assert len(duplicates) <= 0.1 * len(sightings), duplicates
    missed = clear_objects - matched
    assert len(missed) <= 0.1 * len(clear_objects), missed


def test_sightings_have_a_place_on_the_track_and_verifiable_evidence(drive_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, _, sightings, _, track = drive_run
    for sighting in sightings:
        record = json.loads(sighting.to_json())
        assert verify_evidence(record)
        expected = track.position_at(sighting.best_time)
        assert record["location"]["lat"] == pytest.approx(expected.lat) and record["location"]["lon"] == pytest.approx(
            expected.lon
        )
        assert record["location"]["heading_deg"] == pytest.approx(90, abs=1)
    tampered = json.loads(sightings[0].to_json())
    Path(tampered["crop"]["path"]).write_bytes(b"edited")
    assert not verify_evidence(tampered)


def test_a_one_frame_detection_is_not_a_sighting(tmp_path: Path) -> None:
    tracker = ByteTracker(TrackerSettings(motion_compensation=False))
    aggregator = SightingAggregator(tmp_path, ("thing",), SightingSettings(min_hits=3))
    image = np.zeros((100, 100, 3), np.uint8)
    flash = Detections(np.array([[10.0, 10, 40, 40]]), np.array([0.9]), np.array([0]))
    nothing = Detections.empty()
    for t, found in enumerate([flash, nothing, nothing, nothing, nothing]):
        aggregator.add(image, float(t), tracker.update(found, float(t), image))
    assert aggregator.close(tracker.finish()) == [] and aggregator.dropped_short_tracks == 1


def test_the_tracker_answers_with_the_tracked_detections_and_their_ids() -> None:
    tracker = ByteTracker(TrackerSettings(motion_compensation=False))
    image = np.zeros((200, 200, 3), np.uint8)
    first = Detections(np.array([[10.0, 10, 40, 40], [100, 100, 150, 150]]), np.array([0.9, 0.8]), np.array([0, 1]))
    tracked = tracker.update(first, 0.0, image)
    assert tracked.tracker_id is not None and tracked.tracker_id.tolist() == [1, 2]
    assert np.array_equal(tracked.xyxy, first.xyxy) and tracked.class_id.tolist() == [0, 1]
    # the same objects a little further, and a faint box nowhere near a track: not tracked, not returned
    second = Detections(np.array([[160.0, 10, 190, 40], [12, 11, 42, 41], [102, 101, 152, 151]]),
                        np.array([0.15, 0.9, 0.8]), np.array([0, 0, 1]))  # fmt: skip
    tracked = tracker.update(second, 0.2, image)
    assert sorted(zip(tracked.tracker_id.tolist(), tracked.xyxy[:, 0].tolist(), strict=True)) == [(1, 12.0), (2, 102.0)]
