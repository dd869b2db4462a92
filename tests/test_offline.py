from __future__ import annotations

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
