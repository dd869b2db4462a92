"""Video segments uploaded by devices, inspected on the server by the same pipeline as `streetwatch inspect`.

A `VideoWorker` thread takes queued jobs oldest first. A job whose run was cut short by a crash is found
`running` at the next start and run again; its sightings have idempotency keys derived from the job and the
pipeline's deterministic sighting ids, so a re-run stores nothing twice.
"""

import hashlib
import logging
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from inference_server.evidence import scratch_file, store_file
from inference_server.tables import VideoJob
from vision.detector import Detector
from vision.errors import StreetWatchError
from vision.frames import VideoFileSource
from vision.images import ImageLimits
from vision.inspection import Inspection, InspectionConfig
from vision.sightings import Sighting
from vision.taxonomy import load_taxonomy
from vision.track_files import read_track

logger = logging.getLogger(__name__)

SaveSighting = Callable[[Session, VideoJob, Sighting, str], None]
VIDEO_SUFFIXES = (".mp4", ".avi", ".webm", ".mkv", ".mov")


class UploadRefused(StreetWatchError):
    """A video upload that was not kept; its message names no path on the server."""


@dataclass(frozen=True)
class KeptUpload:
    video: Path
    video_sha256: str
    track: Path | None


def public_message(error: Exception, names: dict[Path, str]) -> str:
    """`error`'s message with each of `names`' paths (and its folder) replaced by the name a client knows."""
    message = str(error)
    for path, name in names.items():
        message = message.replace(str(path), name).replace(f"{path.parent}/", "")
    return message


@dataclass(frozen=True)
class Upload:
    """What a device sent: the video and, if any, its GPS track, with the file names it gave them."""

    video: bytes
    video_name: str
    track: bytes | None = None
    track_name: str = "track.gpx"


def keep_upload(folder: Path, upload: Upload, max_pixels: int) -> KeptUpload:
    """Check a video and its GPS track from scratch files, then keep both content-addressed in `folder`.

    A refused upload (`UploadRefused`: not a video, frames over `max_pixels`, a bad track) leaves nothing in
    `folder`. The track is named by its own sha256, not the video's: two uploads of one video with different tracks
    keep both, and a refused track never stands in the way of a good one sent later.
    """
    suffix = Path(upload.video_name or "video.mp4").suffix.lower() or ".mp4"
    if suffix not in VIDEO_SUFFIXES:
        raise UploadRefused(f"unsupported video type {suffix}; expected one of {', '.join(VIDEO_SUFFIXES)}")
    track_suffix = Path(upload.track_name or "track.gpx").suffix.lower()
    scratch: dict[Path, str] = {scratch_file(folder, upload.video, suffix): "video"}
    try:
        VideoFileSource(next(iter(scratch)), max_pixels=max_pixels)  # opens, frames within the limit, or an error
        if upload.track is not None:
            track_file = scratch_file(folder, upload.track, track_suffix)
            scratch[track_file] = "gps track"
            read_track(track_file)
    except (StreetWatchError, ValueError) as error:
        raise UploadRefused(public_message(error, scratch)) from error
    finally:
        for file in scratch:
            file.unlink(missing_ok=True)
    digest = hashlib.sha256(upload.video).hexdigest()
    kept_video = store_file(folder, f"{digest}{suffix}", upload.video, incoming=folder)
    if upload.track is None:
        return KeptUpload(kept_video, digest, None)
    track_name = f"track-{hashlib.sha256(upload.track).hexdigest()}{track_suffix}"
    return KeptUpload(kept_video, digest, store_file(folder, track_name, upload.track, incoming=folder))


class VideoWorker:
    """Runs queued video jobs one at a time on a thread: the inspection every other caller runs
    (`vision.inspection`), with the server's current model, each sighting stored as the job's device sent it."""

    def __init__(
        self,
        engine: Engine,
        model: Callable[[], tuple[Detector, str]],
        save: SaveSighting,
        config: InspectionConfig = InspectionConfig(),
        max_pixels: int = 0,
    ) -> None:
        self.engine, self.model, self.save, self.config = engine, model, save, config
        self.max_pixels = max_pixels or ImageLimits.max_pixels  # per frame, by the video's header
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the worker thread (again, after a `stop`: an app can be started more than once)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="video-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            with Session(self.engine) as session:
                job = session.exec(
                    select(VideoJob).where(col(VideoJob.status).in_(["queued", "running"])).order_by(col(VideoJob.id))
                ).first()
                if job is None:
                    self._wake.wait(1.0)
                    self._wake.clear()
                    continue
                self._run(session, job)

    def _run(self, session: Session, job: VideoJob) -> None:
        job.status, job.updated = "running", datetime.now(UTC)
        session.add(job)
        session.commit()
        known = set(load_taxonomy().names)
        saved = 0
        try:
            track = read_track(Path(job.gps_path)) if job.gps_path else None
            source = VideoFileSource(job.video_path, start_time=job.start_time, max_pixels=self.max_pixels)
            if track is not None and source.duration is not None:
                track.check_covers(job.start_time, job.start_time + source.duration)

            detector, reference = self.model()  # the pair: a hot swap mid-job cannot mislabel its sightings
            with tempfile.TemporaryDirectory(prefix="streetwatch-video-") as scratch:
                inspection = Inspection(
                    detector, self.config, Path(scratch), model=reference, source=f"video {job.id}", track=track
                )

                def keep(sighting: Sighting) -> None:
                    nonlocal saved
                    if sighting.class_name in known:
                        self.save(session, job, sighting, f"video-{job.video_sha256[:16]}#{sighting.sighting_id}")
                        saved += 1

                inspection.run(source, keep)
            job.status, job.sightings, job.error = "done", saved, None
        except (StreetWatchError, ValueError, OSError) as error:
            logger.error("video job %s failed: %s", job.id, error)
            shown = {Path(p): Path(p).name for p in (job.video_path, job.gps_path) if p}
            job.status, job.error = "failed", public_message(error, shown)[:2000]
        job.updated = datetime.now(UTC)
        session.add(job)
        session.commit()
