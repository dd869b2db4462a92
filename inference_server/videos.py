"""Video segments uploaded by devices, inspected on the server by the same pipeline as `streetwatch inspect`.

A `VideoWorker` thread takes queued jobs oldest first. A job whose run was cut short by a crash is found
`running` at the next start and run again; its sightings have idempotency keys derived from the job and the
pipeline's deterministic sighting ids, so a re-run stores nothing twice.
"""

import logging
import tempfile
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from inference_server.tables import VideoJob
from vision.errors import StreetWatchError
from vision.frames import VideoFileSource, sample_by_time
from vision.gps import read_track
from vision.pipeline import run_pipeline
from vision.sightings import Location, Sighting, SightingAggregator
from vision.taxonomy import load_taxonomy
from vision.tracking import ByteTracker

logger = logging.getLogger(__name__)

SaveSighting = Callable[[Session, VideoJob, Sighting, str], None]


class VideoWorker:
    def __init__(self, engine: Engine, detector: Callable[[], Any], save: SaveSighting, fps: float = 5.0) -> None:
        self.engine, self.detector, self.save, self.fps = engine, detector, save, fps
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
            source = VideoFileSource(job.video_path, start_time=job.start_time)
            if track is not None and source.duration is not None:
                track.check_covers(job.start_time, job.start_time + source.duration)

            def locate(t: float) -> Location | None:
                if track is None:
                    return None
                point = track.position_at(t, tolerance_s=1.0)
                return Location(point.lat, point.lon, point.heading_deg)

            detector = self.detector()
            with tempfile.TemporaryDirectory(prefix="streetwatch-video-") as scratch:
                aggregator = SightingAggregator(
                    Path(scratch), detector.class_names, locate=locate, source=f"video {job.id}"
                )

                def keep(sighting: Sighting) -> None:
                    nonlocal saved
                    if sighting.class_name in known:
                        self.save(session, job, sighting, f"video-{job.video_sha256[:16]}#{sighting.sighting_id}")
                        saved += 1

                run_pipeline(sample_by_time(source, self.fps), detector, ByteTracker(), aggregator, keep)
            job.status, job.sightings, job.error = "done", saved, None
        except (StreetWatchError, ValueError, OSError) as error:
            logger.error("video job %s failed: %s", job.id, error)
            job.status, job.error = "failed", str(error)[:2000]
        job.updated = datetime.now(UTC)
        session.add(job)
        session.commit()
