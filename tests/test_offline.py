from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytest.importorskip("ultralytics")


@pytest.mark.timeout(900)
def test_ultralytics_import_predict_export_train_make_no_network_attempt(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YOLO_")}
    env["STREETWATCH_CACHE_DIR"] = str(tmp_path / "cache")  # fonts and settings must be set up from scratch
    result = subprocess.run(
        [sys.executable, "-m", "tests.offline_probe", str(tmp_path)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=880,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "no network attempts" in result.stdout
    assert "train: wrote ['best.pt', 'last.pt']" in result.stdout
    # `models.train` wrote a run folder that says what the model is made of
    run = tmp_path / "runs" / "offline"
    info = json.loads((run / "run.json").read_text())
    manifest = tmp_path / "tiny" / "versions" / "tiny-v1" / "manifest.json"
    assert info["dataset"]["manifest_sha256"] == hashlib.sha256(manifest.read_bytes()).hexdigest()
    assert info["dataset"]["name"] == "tiny-v1" and info["hardware"].endswith("(CPU)") and info["seconds"] > 0
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    epochs = [row for row in rows if "epoch" in row]
    assert [e["epoch"] for e in epochs] == [1] and "metrics/mAP50(B)" in epochs[0] and "train/box_loss" in epochs[0]
    assert epochs[0]["train/box_loss"] > 0  # the labels reached the loss
    assert (run / "config.yaml").read_text() == (tmp_path / "train.yaml").read_text()
    # `models.publish` made a zoo model of it whose card says what it is
    card = json.loads((tmp_path / "zoo" / "tiny" / "card.json").read_text())
    for name, sha256 in card["files"].items():
        assert hashlib.sha256((tmp_path / "zoo" / "tiny" / name).read_bytes()).hexdigest() == sha256
    assert card["training"]["dataset"]["manifest_sha256"] == info["dataset"]["manifest_sha256"]
    boxes = card["training_data"]["boxes"]
    assert boxes["overflowing_bin"]["train"]["real"] > 0 and card["synthetic_only_classes"] == []
    assert {c["name"] for c in card["evaluation"]["onnx_int8"]["classes"]} == set(card["classes"])
    assert (
        card["speed"]["onnx_fp32_ms"] > 0
        and "| all | overflowing_bin |" in (tmp_path / "zoo" / "tiny" / "card.md").read_text()
    )
    wide = card["speed"]["frame_1080p"]  # per 1920 x 1080 frame, whole and tiled, on every backend
    for backend in ("onnx_fp32", "onnx_int8", "ultralytics"):
        assert 0 < wide[f"{backend}_ms"] < wide[f"{backend}_tiles_ms"]
    assert card["data_statement"]["licence_not_stated"] == []
    tiled = card["evaluation"]["tiled"]  # at 160 px every sample photo shrinks enough to be tiled in use
    assert tiled["sources"] and set(tiled["sources"]) <= set(card["training_data"]["images"])
    assert tiled["camera_sources"] == [] and "onnx_fp32_camera_size" not in tiled  # square photos: no camera frames
    assert {c["name"] for c in tiled["onnx_int8"]["classes"]} == set(card["classes"])
    assert (tmp_path / "cache" / "ultralytics" / "Arial.ttf").is_file()


def test_the_guard_catches_ultralytics_when_it_is_not_configured(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YOLO_")}
    env["YOLO_CONFIG_DIR"] = str(tmp_path)  # keep its settings file out of the home folder
    result = subprocess.run(
        [sys.executable, "-m", "tests.offline_probe", "--plain-import"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "getaddrinfo" in result.stdout  # its DNS probe, refused by the guard before any packet left
