"""The edge process's threads belong to one `EdgeRunner` (issue 20, item 5): it inspects, queues, sends and follows
the server's model, and stops all of it on the way out with a last send."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from models.registry import DEFAULT_MODEL, ModelFormat, load_detector, model_file
from testbed.net import free_port
from tests.receiver import Receiver
from tests.test_inspection import Scripted, _frames
from vision.edge import EdgeRunner, ModelFollower
from vision.frames import Frame
from vision.inspection import Inspection, InspectionConfig
from vision.model_updates import SwappableDetector
from vision.outbox import Outbox, Sender
from vision.server_client import ServerClient


def _runner(tmp_path: Path, receiver: Receiver, script: list[float]) -> tuple[EdgeRunner, Outbox]:
    config = InspectionConfig(fps=5)
    inspection = Inspection(Scripted(script, 0.1), config, tmp_path / "ev", model="m@1", source="cam")
    outbox = Outbox(tmp_path / "outbox.db")
    sender = Sender(tmp_path / "outbox.db", ServerClient(receiver.base, "key"), timeout=2)
    return EdgeRunner(inspection, outbox, sender), outbox


def test_the_runner_queues_sends_and_stops_its_threads(tmp_path: Path) -> None:
    receiver = Receiver(free_port()).start()
    try:
        runner, outbox = _runner(tmp_path, receiver, [0.8] * 6 + [0.0] * 10 + [0.9] * 6)
        stats = runner.run(_frames(22))
        assert stats.sightings == 2 and len(receiver.posts) == 2  # the last send took what the pipeline just made
        assert outbox.counts() == {"pending": 0, "sent": 2, "rejected": 0}
        assert not [t for t in threading.enumerate() if t.name.startswith("edge-")]  # nothing left running
    finally:
        receiver.stop()


def test_stop_ends_the_run_after_the_frame_in_hand(tmp_path: Path) -> None:
    receiver = Receiver(free_port()).start()
    try:
        runner, _ = _runner(tmp_path, receiver, [0.8] * 50)

        def live() -> Iterator[Frame]:  # a stream that never ends by itself
            for index, frame in enumerate(_frames(50)):
                if index == 10:
                    runner.stop()
                yield frame

        stats = runner.run(live())
        assert stats.frames == 10 and stats.sightings == 1  # the open track was closed and queued on the way out
        assert len(receiver.posts) == 1
    finally:
        receiver.stop()


def test_a_followed_model_runs_at_the_inspection_floor_and_names_later_sightings(tmp_path: Path) -> None:
    config = InspectionConfig()
    detector = SwappableDetector(load_detector(DEFAULT_MODEL, settings=config.detection))
    inspection = Inspection(detector, config, tmp_path / "ev", model="streetwatch-starter@0.2.0", source="cam")

    class Promoted:  # what ModelUpdater.check() returns once the server promoted a new version
        reference = "streetwatch-starter@0.2.0-r1"

        def check(self) -> Path:
            return model_file(DEFAULT_MODEL, ModelFormat.ONNX_INT8)

    follower = ModelFollower(Promoted(), detector, inspection)  # type: ignore[arg-type]
    assert follower.check()
    assert inspection.model == "streetwatch-starter@0.2.0-r1"
    running = detector._detector  # the swapped-in detector (tiled or not, it wraps the one with the settings)
    inner = getattr(running, "detector", running)
    assert inner.settings.confidence_threshold == config.tracker.low_threshold
