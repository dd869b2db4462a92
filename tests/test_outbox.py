"""The edge outbox: sightings survive a dead server and a killed process, and arrive exactly once."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from testbed.net import free_port
from tests.conftest import REPO_ROOT
from tests.receiver import Receiver
from vision.outbox import Outbox, Sender
from vision.server_client import ServerClient
from vision.sightings import Evidence, Location, Sighting


def make_sightings(folder: Path, count: int) -> list[Sighting]:
    """`count` sightings with real JPEG evidence files."""
    folder.mkdir(parents=True, exist_ok=True)
    sightings = []
    for i in range(count):
        evidence = []
        for kind in ("frame", "crop"):
            data = cv2.imencode(".jpg", np.full((48, 64, 3), i * 7 % 255, np.uint8))[1].tobytes()
            path = folder / f"s{i}-{kind}.jpg"
            path.write_bytes(data)
            evidence.append(Evidence(str(path), hashlib.sha256(data).hexdigest()))
        sightings.append(
            Sighting(f"sighting-{i:03d}", "overflowing_bin", 0.8, 5, 100.0 + i, 101.0 + i, 100.5 + i,
                     (1.0, 2.0, 30.0, 40.0), evidence[0], evidence[1], Location(31.2, 121.4, 90.0), "test", [0.8] * 5)
        )  # fmt: skip
    return sightings


def test_sightings_wait_while_the_server_is_down_and_arrive_once(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.db")
    sightings = make_sightings(tmp_path / "evidence", 6)
    assert all(outbox.put(s) for s in sightings)
    assert not outbox.put(sightings[0])  # the same sighting twice is stored once
    receiver = Receiver(free_port())
    sender = Sender(tmp_path / "outbox.db", ServerClient(receiver.base, "device-key"), timeout=2)
    assert sender.send_pending() == 0  # nobody listening: nothing lost, nothing marked sent
    assert outbox.counts()["pending"] == 6
    receiver.start()
    try:
        assert sender.send_pending() == 6
        assert sender.send_pending() == 0
    finally:
        receiver.stop()
    assert sorted(receiver.posts) == [s.sighting_id for s in sightings]  # exactly once each
    assert outbox.counts() == {"pending": 0, "sent": 6, "rejected": 0}
    body = receiver.bodies["sighting-002"]
    assert hashlib.sha256(body["frame_bytes"]).hexdigest() == body["frame"]["sha256"]
    assert hashlib.sha256(body["crop_bytes"]).hexdigest() == body["crop"]["sha256"]
    assert body["location"]["lat"] == 31.2 and body["api_key"] == "device-key"


def test_a_lost_answer_is_resent_and_a_conflict_is_set_aside(tmp_path: Path) -> None:
    receiver = Receiver().start()
    try:
        outbox = Outbox(tmp_path / "outbox.db")
        first, second = make_sightings(tmp_path / "evidence", 2)
        outbox.put(first)
        outbox.put(second)
        receiver.bodies[first.sighting_id] = {"sighting_id": first.sighting_id}  # arrived, the answer was lost
        receiver.bodies[second.sighting_id] = {"sighting_id": "something else"}  # that key, other data: 409
        assert Sender(tmp_path / "outbox.db", ServerClient(receiver.base)).send_pending() == 1
        assert outbox.counts() == {"pending": 0, "sent": 1, "rejected": 1}
        assert receiver.posts == [first.sighting_id, second.sighting_id]
    finally:
        receiver.stop()


def test_evidence_that_changed_on_disk_is_refused(tmp_path: Path) -> None:
    (sighting,) = make_sightings(tmp_path / "evidence", 1)
    Path(sighting.crop.path).write_bytes(b"edited")
    with pytest.raises(ValueError, match="crop evidence does not match its sha256"):
        Outbox(tmp_path / "outbox.db").put(sighting)


CHILD = """
import sys, time
from pathlib import Path
sys.path.insert(0, {repo!r})
from tests.test_outbox import make_sightings
from vision.outbox import Outbox
outbox = Outbox(Path({db!r}))
for sighting in make_sightings(Path({evidence!r}), {count}):
    outbox.put(sighting)
print("queued", flush=True)
time.sleep(120)  # killed here, before it ever sends
"""


def test_kill_9_after_queueing_loses_nothing(tmp_path: Path) -> None:
    code = CHILD.format(repo=str(REPO_ROOT), db=str(tmp_path / "outbox.db"), evidence=str(tmp_path / "ev"), count=5)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "queued"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        for name in ("s0-frame.jpg", "s0-crop.jpg"):
            (tmp_path / "ev" / name).unlink()  # the evidence files may be gone too: the outbox holds the bytes
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    receiver = Receiver().start()
    try:
        assert Sender(tmp_path / "outbox.db", ServerClient(receiver.base)).send_pending() == 5
    finally:
        receiver.stop()
    assert sorted(receiver.posts) == [f"sighting-{i:03d}" for i in range(5)]
