"""One inspection, assembled in one place: frames → sampling → detection → tracking → sightings.

`streetwatch inspect` (a video and its GPS track), `streetwatch edge` (a live source) and the server's video jobs
all run an `Inspection` built from one validated `InspectionConfig`. Each used to build its own tracker,
aggregator and locator, and the copies drifted: the server's detector stopped at the 0.25 review threshold, so the
tracker's second stage (detections from 0.1, `TrackerSettings.low_threshold`) never fired in video jobs; the
server dropped the projection ahead of the car; `inspect` named no model in its sightings. Here the detector's
confidence floor is the tracker's low threshold by construction (`InspectionConfig.detection`), the location
comes from one `locator`, and a sighting always names the model that produced it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from vision.detector import Detector
from vision.frames import Frame, sample_by_distance, sample_by_time
from vision.gps import GpsTrack
from vision.pipeline import PipelineStats, run_pipeline
from vision.sightings import Location, Sighting, SightingAggregator, SightingSettings
from vision.tracking import ByteTracker, TrackerSettings
from vision.yolo_head import DetectionSettings

GPS_TOLERANCE_S = 1.0  # a frame this far outside the track still takes its end's position (check_covers allows it)


class InspectionConfig(BaseModel):
    """How frames become sightings: sampling, the tracker (and with it the detector's confidence floor), the
    sighting rules, the projection ahead of the car and the tiling of wide frames."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fps: float = Field(default=5.0, gt=0, le=120, description="frames per second of capture time to analyse")
    min_distance_m: float | None = Field(
        default=None, gt=0, description="with a GPS track: skip frames until the car moved this far"
    )
    tracker: TrackerSettings = Field(default_factory=TrackerSettings)
    min_hits: int = Field(default=3, ge=1, description="frames a track needs to become a sighting")
    project_m: float = Field(default=0.0, ge=0, le=100, description="place sightings this far ahead along the heading")
    tiles: bool | None = Field(default=None, description="tile wide frames (None: as the model's card says)")
    tiles_per_frame: int | None = Field(default=None, ge=1, description="run at most this many tiles per frame")

    @property
    def detection(self) -> DetectionSettings:
        """What the detector must keep: everything the tracker can use, down to its second stage's threshold."""
        return DetectionSettings(confidence_threshold=self.tracker.low_threshold)

    @property
    def sightings(self) -> SightingSettings:
        return SightingSettings(min_hits=self.min_hits, project_m=self.project_m)

    def sample(self, frames: Iterable[Frame], track: GpsTrack | None = None) -> Iterator[Frame]:
        """`fps` frames per second, then (with a track and `min_distance_m`) one per distance driven."""
        sampled = sample_by_time(frames, self.fps)
        if self.min_distance_m is None:
            return sampled
        if track is None:
            raise ValueError("sampling by distance needs a GPS track")
        return sample_by_distance(sampled, lambda t: track.distance_between(track.start, t), self.min_distance_m)


def locator(track: GpsTrack | None, project_m: float = 0.0) -> Callable[[float], Location | None]:
    """Where a sighting seen at time t is: the track's position (within `GPS_TOLERANCE_S` of its ends), moved
    `project_m` ahead along the heading when there is one; None without a track."""

    def locate(t: float) -> Location | None:
        if track is None:
            return None
        point = track.position_at(t, tolerance_s=GPS_TOLERANCE_S)
        if project_m and point.heading_deg is not None:
            ahead = track.project(point, project_m)
            return Location(ahead.lat, ahead.lon, point.heading_deg, project_m)
        return Location(point.lat, point.lon, point.heading_deg)

    return locate


class Inspection:
    """One run of the pipeline: the only place a `ByteTracker` and a `SightingAggregator` are built.

    `model` is the `name@version` (or file) each sighting names; the edge changes it on a hot swap.
    """

    def __init__(
        self,
        detector: Detector,
        config: InspectionConfig,
        evidence_dir: Path,
        *,
        model: str,
        source: str,
        run: str = "",
        track: GpsTrack | None = None,
    ) -> None:
        self.detector, self.config, self.track = detector, config, track
        self.tracker = ByteTracker(config.tracker)
        self.aggregator = SightingAggregator(
            evidence_dir, detector.class_names, config.sightings, locator(track, config.project_m), source, run
        )
        self.aggregator.model = model

    @property
    def model(self) -> str:
        return self.aggregator.model

    @model.setter
    def model(self, reference: str) -> None:
        self.aggregator.model = reference  # sightings that end from now on name the new model

    @property
    def run_name(self) -> str:
        return self.aggregator.run

    def run(
        self,
        frames: Iterable[Frame],
        sink: Callable[[Sighting], None],
        on_frame: Callable[[Frame], None] | None = None,
    ) -> PipelineStats:
        """Sample, detect, track; `sink` gets each sighting as soon as its track ends."""
        return run_pipeline(
            self.config.sample(frames, self.track), self.detector, self.tracker, self.aggregator, sink, on_frame
        )
