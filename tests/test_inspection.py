"""One inspection assembly (issue 20, item 3): the detector's floor is the tracker's low threshold by construction,
a sighting names its model and its place comes from one locator; the tracker and the aggregator are built in one
place outside the tests."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from tests.conftest import REPO_ROOT
from vision.detections import Detections
from vision.frames import Frame
from vision.gps import GpsFix, GpsTrack
from vision.inspection import Inspection, InspectionConfig, locator
from vision.sightings import Sighting
from vision.tracking import TrackerSettings


class Scripted:
    """A detector that reports one object at a fixed place with the confidence the script gives for each frame,
    dropping what is under its floor as a real detector does."""

    def __init__(self, confidences: list[float], floor: float) -> None:
        self.confidences, self.floor, self.calls = confidences, floor, 0

    @property
    def class_names(self) -> tuple[str, ...]:
        return ("exposed_garbage",)

    @property
    def input_size(self) -> tuple[int, int]:
        return (64, 64)

    def detect(self, image: np.ndarray) -> Detections:
        score = self.confidences[self.calls]
        self.calls += 1
        if score < self.floor:
            return Detections.empty()
        return Detections(np.array([[20.0, 20, 44, 44]], np.float32), np.array([score], np.float32), np.array([0]))

    def detect_batch(self, images: list[np.ndarray]) -> list[Detections]:
        return [self.detect(image) for image in images]


def _frames(count: int, fps: float = 5.0) -> list[Frame]:
    image = np.full((64, 64, 3), 90, np.uint8)
    image[20:44, 20:44] = 200  # something for the camera-motion estimate to hold on to
    return [Frame(image.copy(), 1_800_000_000.0 + i / fps, i, "test") for i in range(count)]


def _run(config: InspectionConfig, floor: float, tmp_path: Path, model: str = "m@1") -> list[Sighting]:
    # a sure object that the detector is unsure of for four frames (half hidden by a passing car), then sure again
    script = [0.8] * 4 + [0.15] * 4 + [0.8] * 4
    found: list[Sighting] = []
    inspection = Inspection(Scripted(script, floor), config, tmp_path / "evidence", model=model, source="test")
    inspection.run(_frames(len(script)), found.append)
    return found


def test_the_detector_keeps_what_the_trackers_second_stage_needs(tmp_path: Path) -> None:
    """The server's video jobs once loaded the detector at the 0.25 review threshold: the tracker's second stage
    (from 0.1) never saw a box, and an object that dipped below 0.25 for a moment became two sightings."""
    config = InspectionConfig(fps=5, tracker=TrackerSettings(motion_compensation=False, max_lost_seconds=0.5))
    assert config.detection.confidence_threshold == config.tracker.low_threshold == 0.1
    assert len(_run(config, config.detection.confidence_threshold, tmp_path / "floor")) == 1
    assert len(_run(config, 0.25, tmp_path / "review")) == 2  # what a detector cut at 0.25 did
    custom = InspectionConfig(tracker=TrackerSettings(low_threshold=0.05))
    assert custom.detection.confidence_threshold == 0.05


def test_every_sighting_names_the_model_that_produced_it(tmp_path: Path) -> None:
    config = InspectionConfig(fps=5)
    (sighting,) = _run(config, 0.1, tmp_path, model="streetwatch-starter@0.2.0")
    assert sighting.model == "streetwatch-starter@0.2.0"
    assert json.loads(sighting.to_json())["model"] == "streetwatch-starter@0.2.0"  # what the edge sends
    inspection = Inspection(Scripted([0.8], 0.1), config, tmp_path / "e", model="a@1", source="s")
    inspection.model = "a@2"  # the edge's hot swap
    assert inspection.aggregator.model == "a@2"


def test_the_locator_projects_ahead_along_the_heading() -> None:
    start = 1_800_000_000.0
    track = GpsTrack(tuple(GpsFix(start + t, 31.2, 121.4 + t * 1e-4) for t in range(10)))  # driving east
    here = locator(track)(start + 5)
    ahead = locator(track, project_m=20.0)(start + 5)
    assert here is not None and ahead is not None
    assert ahead.lon > here.lon and ahead.lat == pytest.approx(here.lat, abs=1e-6)
    assert ahead.heading_deg == pytest.approx(90, abs=1) and ahead.projected_m == 20.0
    assert locator(None, 20.0)(start) is None


def test_the_config_is_validated_and_distance_sampling_needs_a_track() -> None:
    for bad in ({"fps": 0}, {"min_hits": 0}, {"project_m": -1}, {"tiles_per_frame": 0}, {"frame_rate": 5}):
        with pytest.raises(ValidationError):
            InspectionConfig.model_validate(bad)
    with pytest.raises(ValueError, match="needs a GPS track"):
        InspectionConfig(min_distance_m=5).sample(_frames(3))


def test_the_tracker_and_the_aggregator_are_built_in_one_place() -> None:
    """Three copies of the assembly drifted apart once; outside the tests there is one."""
    built: dict[str, list[str]] = {"ByteTracker(": [], "SightingAggregator(": []}
    for path in REPO_ROOT.rglob("*.py"):
        relative = path.relative_to(REPO_ROOT)
        if relative.parts[0] in ("tests", "data", "runs", "node_modules") or relative.parts[0].startswith("."):
            continue
        text = path.read_text(encoding="utf-8")
        for call in built:
            if re.search(rf"(?<![\w.]){re.escape(call)}", text.replace(f"class {call}", "")):
                built[call].append(str(relative))
    assert built == {"ByteTracker(": ["vision/inspection.py"], "SightingAggregator(": ["vision/inspection.py"]}


def test_the_servers_video_jobs_run_at_the_trackers_floor(tmp_path: Path) -> None:
    """The bug this module was made for: the server's video jobs ran its 0.25 review-threshold detector."""
    from inference_server.app import create_app
    from inference_server.settings import Settings

    app = create_app(Settings(data_dir=tmp_path / "data"))
    detector, reference = app.state.served.current()
    backend = getattr(detector, "detector", detector)  # under the tiling wrapper when the card tiles
    config = app.state.worker.config
    assert (
        backend.settings.confidence_threshold == config.tracker.low_threshold == config.detection.confidence_threshold
    )
    assert app.state.worker.model() == (detector, reference) and "@" in reference  # sightings name name@version
