"""The edge process: a live source inspected frame by frame, sightings into the on-disk outbox, the outbox emptied
to the server, and the server's promoted model followed — each on its own thread, all owned by one `EdgeRunner`.

`streetwatch edge` used to start the sender and the model-follow threads itself (the follow loop lived with the
retraining commands) and to stop them in its own `finally`. Here the runner starts them, runs the inspection on the
calling thread, and on the way out (the source ended, Ctrl-C, an error) stops them and makes one last send, so
what the pipeline just produced is not left for the next start.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from vision.frames import Frame
from vision.inspection import Inspection
from vision.model_updates import ModelUpdater, SwappableDetector
from vision.outbox import Outbox, Sender
from vision.pipeline import PipelineStats
from vision.sightings import Sighting
from vision.tiling import TilingConfig, with_tiling

logger = logging.getLogger(__name__)


class ModelFollower:
    """Polls the server's current model; a verified new one is swapped in and later sightings name it.

    A new model runs with the detection floor of the inspection and the `tiling` the edge started with (its
    `--tiles` flag or the first model's card).
    """

    def __init__(
        self,
        updater: ModelUpdater,
        detector: SwappableDetector,
        inspection: Inspection,
        tiling: TilingConfig | None = None,
        threads: int | None = None,
    ) -> None:
        self.updater, self.detector, self.inspection = updater, detector, inspection
        self.tiling, self.threads = tiling, threads

    def check(self) -> bool:
        """One poll; True when a new model now runs."""
        from vision.onnx_backend import OnnxDetector, OnnxOptions

        path = self.updater.check()
        if path is None:
            return False
        options = OnnxOptions(threads=self.threads)
        self.detector.swap(with_tiling(OnnxDetector(path, self.inspection.config.detection, options), self.tiling))
        self.inspection.model = self.updater.reference
        logger.info("edge now runs %s", self.updater.reference)
        return True

    def run(self, every: float, stop: threading.Event) -> None:
        while not stop.wait(every):
            try:
                self.check()
            except Exception:  # a loop boundary: a failed check must never stop the inspection
                logger.exception("model update check failed; the current model keeps running")


class EdgeRunner:
    """One edge process's threads: `run` inspects on the caller's thread until the source ends or `stop`."""

    def __init__(
        self,
        inspection: Inspection,
        outbox: Outbox,
        sender: Sender | None = None,
        follower: ModelFollower | None = None,
        follow_every: float = 300.0,
    ) -> None:
        self.inspection, self.outbox, self.sender = inspection, outbox, sender
        self.follower, self.follow_every = follower, follow_every
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _enqueue(self, sighting: Sighting) -> None:
        self.outbox.put(sighting)  # durable before the pipeline goes on
        logger.info("queued sighting %s (%s, %.2f)", sighting.sighting_id, sighting.class_name, sighting.score)

    def _start(self) -> None:
        if self.sender is not None:
            self._threads.append(threading.Thread(target=self.sender.run, name="edge-sender", daemon=True))
        if self.follower is not None and self.follow_every > 0:
            follow = threading.Thread(
                target=self.follower.run, args=(self.follow_every, self._stop), name="edge-model", daemon=True
            )
            self._threads.append(follow)
        for thread in self._threads:
            thread.start()

    def run(self, frames: Iterable[Frame]) -> PipelineStats:
        """Inspect `frames`, queueing each sighting; the threads stop (and the outbox gets a last send) on return."""
        self._start()
        try:
            return self.inspection.run(self._until_stopped(frames), self._enqueue)
        finally:
            self._stop.set()
            if self.sender is not None:
                self.sender.stop()
            for thread in self._threads:
                thread.join(timeout=30)
            if self.sender is not None:
                self.sender.send_pending(self.outbox)  # a last round for what the pipeline just produced

    def _until_stopped(self, frames: Iterable[Frame]) -> Iterable[Frame]:
        for frame in frames:
            if self._stop.is_set():
                return
            yield frame

    def stop(self) -> None:
        """Ask `run` to return after the frame in hand (from another thread or a signal handler)."""
        self._stop.set()
