"""The inspection pipeline: frames → sampling → detection → tracking → sightings.

Used by `streetwatch inspect` (a video file and its GPS track) and, with a live source, by `streetwatch edge`.
"""

from __future__ import annotations

import logging
import time as clock
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from vision.detector import Detector
from vision.frames import Frame
from vision.sightings import Sighting, SightingAggregator
from vision.tracking import ByteTracker

logger = logging.getLogger(__name__)


@dataclass
class PipelineStats:
    """What one run did."""

    frames: int = 0  # frames that reached the detector
    detections: int = 0
    tracks: int = 0
    sightings: int = 0
    short_tracks_dropped: int = 0
    seconds: float = 0.0
    per_class: dict[str, int] = field(default_factory=dict)

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def run_pipeline(
    frames: Iterable[Frame],
    detector: Detector,
    tracker: ByteTracker,
    aggregator: SightingAggregator,
    on_sighting: Callable[[Sighting], None],
    on_frame: Callable[[Frame], None] | None = None,
) -> PipelineStats:
    """Detect and track every (already sampled) frame; `on_sighting` is called as soon as a track ends."""
    stats = PipelineStats()
    started = clock.perf_counter()
    seen_tracks: set[int] = set()

    def emit(sightings: list[Sighting]) -> None:
        for sighting in sightings:
            stats.sightings += 1
            stats.per_class[sighting.class_name] = stats.per_class.get(sighting.class_name, 0) + 1
            on_sighting(sighting)

    for frame in frames:
        detections = detector.detect(frame.image)
        tracked = tracker.update(detections, frame.time, frame.image)
        aggregator.add(frame.image, frame.time, tracked)
        seen_tracks.update(tracked.tracker_id.tolist() if tracked.tracker_id is not None else ())
        stats.frames += 1
        stats.detections += len(detections)
        emit(aggregator.close(tracker.pop_ended()))
        if on_frame is not None:
            on_frame(frame)
    emit(aggregator.close(tracker.finish()))
    stats.tracks = len(seen_tracks)
    stats.short_tracks_dropped = aggregator.dropped_short_tracks
    stats.seconds = clock.perf_counter() - started
    logger.info(
        "%d frames, %d detections, %d tracks → %d sightings (%.1f frames/s)",
        stats.frames, stats.detections, stats.tracks, stats.sightings, stats.frames_per_second,
    )  # fmt: skip
    return stats


def counted(frames: Iterable[Frame], counter: list[int]) -> Iterator[Frame]:
    """Pass frames through, counting them in counter[0] (for progress bars over sampled streams)."""
    for frame in frames:
        counter[0] += 1
        yield frame
