"""From tracks to sightings: one per physical object per pass, with its best evidence and where it was.

A track becomes a sighting only after `min_hits` confirming frames (a one-frame false positive never reaches a
reviewer). Its score is the median of its confidence history (as Frigate scores tracked objects: one lucky frame
does not make a sighting, one bad frame does not sink it). Its evidence is its best frame — confidence × √area,
preferring boxes not cut off by the frame's border — written as the full frame, untouched (the box travels as
numbers: the review UI draws it, and the frame can become a training label without a drawn rectangle the model
would learn), and as a crop, each with the sha256 of the file's bytes, so that anyone can later prove the
evidence was not altered. Its
location is the car's position at that frame's capture time (from the GPS track), optionally moved forward along
the heading by the typical distance to what the camera sees.
"""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vision.detections import Detections
from vision.images import ImageArray
from vision.records import SightingRecord
from vision.tracking import Track

BORDER_PX = 3  # a box this close to the frame's edge is probably cut off


@dataclass(frozen=True)
class Location:
    """Where the car was (or, projected, what it saw) at the evidence frame."""

    lat: float
    lon: float
    heading_deg: float | None
    projected_m: float = 0.0


@dataclass(frozen=True)
class Evidence:
    """A file written for a sighting and the sha256 of its bytes."""

    path: str
    sha256: str


@dataclass(frozen=True)
class Sighting:
    """One physical object seen on one pass."""

    sighting_id: str
    class_name: str
    score: float  # median confidence over the track
    frames: int  # confirming frames
    first_time: float
    last_time: float
    best_time: float
    box: tuple[float, float, float, float]  # in the evidence frame, pixels xyxy
    frame: Evidence
    crop: Evidence
    location: Location | None
    source: str
    confidences: list[float] = field(repr=False)
    run: str = ""  # the patrol run (drive or camera session) it was seen on
    model: str = ""  # name@version of the model that produced it (the server records it per sighting)

    def to_record(self) -> SightingRecord:
        """What crosses the wire (`vision.records`): validated, bounded."""
        return SightingRecord.model_validate(asdict(self))

    def to_json(self) -> str:
        """The record as JSON: a line of sightings.jsonl, an outbox row, the `metadata` of an ingest request."""
        return self.to_record().model_dump_json()


@dataclass
class _Candidate:
    """What is kept of a live track: its confidence history and only its best frame so far."""

    confidences: list[float] = field(default_factory=list)
    best_quality: float = -1.0
    best_image: ImageArray | None = None
    best_box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    best_confidence: float = 0.0
    best_class: int = 0
    best_time: float = 0.0
    first_time: float = 0.0
    last_time: float = 0.0


@dataclass(frozen=True)
class SightingSettings:
    min_hits: int = 3  # confirming frames before a track is a sighting
    crop_padding: float = 0.25  # crop = box grown by this share of its size on each side
    jpeg_quality: int = 92
    project_m: float = 0.0  # move the location forward along the heading by this many metres


class SightingAggregator:
    """Collects each frame's tracked detections; turns ended tracks into sightings with evidence on disk."""

    def __init__(
        self,
        evidence_dir: Path,
        class_names: tuple[str, ...],
        settings: SightingSettings = SightingSettings(),
        locate: Callable[[float], Location | None] | None = None,
        source: str = "",
        run: str = "",
    ) -> None:
        self.run = run
        self.evidence_dir = evidence_dir
        self.class_names = class_names
        self.settings = settings
        self.locate = locate
        self.source = source
        self._live: dict[int, _Candidate] = {}
        self.model = ""  # set (and updated on a hot swap) by whoever runs the detector
        self.dropped_short_tracks = 0
        evidence_dir.mkdir(parents=True, exist_ok=True)

    def add(self, image: ImageArray, time: float, tracked: Detections) -> None:
        """One frame's tracked detections (`ByteTracker.update`'s answer, each with its `tracker_id`)."""
        if tracked.tracker_id is None:
            raise ValueError("SightingAggregator.add takes tracked detections (with tracker_id)")
        h, w = image.shape[:2]
        for row, track_id in enumerate(tracked.tracker_id.tolist()):
            box = tuple(float(v) for v in tracked.xyxy[row])
            confidence = float(tracked.confidence[row])
            candidate = self._live.setdefault(track_id, _Candidate(first_time=time))
            candidate.confidences.append(confidence)
            candidate.last_time = time
            area = max(0.0, (box[2] - box[0]) * (box[3] - box[1]))
            cut = box[0] <= BORDER_PX or box[1] <= BORDER_PX or box[2] >= w - BORDER_PX or box[3] >= h - BORDER_PX
            quality = confidence * np.sqrt(area) * (0.5 if cut else 1.0)
            if quality > candidate.best_quality:
                candidate.best_quality = quality
                candidate.best_image = image  # frames are not modified downstream: no copy needed
                candidate.best_box = box  # type: ignore[assignment]
                candidate.best_confidence = confidence
                candidate.best_class = int(tracked.class_id[row])
                candidate.best_time = time

    def close(self, tracks: list[Track]) -> list[Sighting]:
        """Sightings of the ended `tracks` that had enough confirming frames (their evidence is written now)."""
        sightings = []
        for track in tracks:
            candidate = self._live.pop(track.track_id, None)
            if candidate is None or candidate.best_image is None:
                continue
            if len(candidate.confidences) < self.settings.min_hits:
                self.dropped_short_tracks += 1
                continue
            sightings.append(self._sighting(track, candidate))
        return sightings

    def _sighting(self, track: Track, c: _Candidate) -> Sighting:
        assert c.best_image is not None
        class_id = track.class_id
        name = self.class_names[class_id] if 0 <= class_id < len(self.class_names) else str(class_id)
        sighting_id = hashlib.sha256(f"{self.source}|{track.track_id}|{c.first_time:.3f}".encode()).hexdigest()[:16]
        frame = c.best_image
        crop = crop_box(c.best_image, c.best_box, self.settings.crop_padding)
        stem = f"{sighting_id}-{name}"
        location = self.locate(c.best_time) if self.locate else None
        return Sighting(
            sighting_id=sighting_id,
            class_name=name,
            score=round(float(statistics.median(c.confidences)), 4),
            frames=len(c.confidences),
            first_time=c.first_time,
            last_time=c.last_time,
            best_time=c.best_time,
            box=tuple(round(v, 1) for v in c.best_box),  # type: ignore[arg-type]
            frame=self._write(f"{stem}-frame.jpg", frame),
            crop=self._write(f"{stem}-crop.jpg", crop),
            location=location,
            source=self.source,
            confidences=[round(v, 4) for v in c.confidences],
            run=self.run,
            model=self.model,
        )

    def _write(self, name: str, image: ImageArray) -> Evidence:
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.settings.jpeg_quality])
        if not ok:
            raise OSError(f"could not encode evidence {name}")
        data = encoded.tobytes()
        path = self.evidence_dir / name
        path.write_bytes(data)
        return Evidence(str(path), hashlib.sha256(data).hexdigest())


def crop_box(image: ImageArray, box: tuple[float, float, float, float], padding: float = 0.25) -> ImageArray:
    """The box grown by `padding` of its size on each side, cut from the image (at least 1 x 1 px)."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = box
    pad_x, pad_y = (x1 - x0) * padding, (y1 - y0) * padding
    left, top = max(0, int(x0 - pad_x)), max(0, int(y0 - pad_y))
    right, bottom = min(w, int(np.ceil(x1 + pad_x))), min(h, int(np.ceil(y1 + pad_y)))
    return np.ascontiguousarray(image[top : max(bottom, top + 1), left : max(right, left + 1)])


def verify_evidence(sighting: dict[str, Any]) -> bool:
    """True when both evidence files still have the sha256 recorded in the sighting (a JSON line)."""
    for key in ("frame", "crop"):
        evidence = sighting[key]
        if hashlib.sha256(Path(evidence["path"]).read_bytes()).hexdigest() != evidence["sha256"]:
            return False
    return True
