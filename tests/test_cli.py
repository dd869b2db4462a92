from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from streetwatch.cli import app
from tests.conftest import REPO_ROOT

runner = CliRunner()


def test_help_lists_the_subcommands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("detect", "export"):
        assert command in result.output


def test_detect_writes_annotated_images_json_and_csv_and_skips_bad_files(
    tmp_path: Path, sample_paths: list[Path]
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for path in sample_paths[:3]:
        shutil.copyfile(path, photos / path.name)
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (photos / "empty.png").write_bytes(b"")
    out = tmp_path / "out"
    result = runner.invoke(app, ["detect", str(photos), "--out", str(out), "--model", "coco-yolov8n"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "detections.json").read_text(encoding="utf-8"))
    assert report["model"] == "coco-yolov8n" and len(report["class_names"]) == 80
    assert [Path(e["image"]).name for e in report["images"]] == sorted(p.name for p in sample_paths[:3])
    assert {Path(s["image"]).name: s["reason"] for s in report["skipped"]}.keys() == {"broken.jpg", "empty.png"}
    assert any("not a decodable image" in s["reason"] for s in report["skipped"])
    boxes = sum(len(e["detections"]) for e in report["images"])
    assert boxes > 0
    with (out / "detections.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == boxes and {"person", "car"} & {r["class_name"] for r in rows}
    for entry in report["images"]:
        assert Path(entry["annotated"]).is_file()


def test_int8_and_threads_options(tmp_path: Path, sample_paths: list[Path]) -> None:
    result = runner.invoke(
        app, ["detect", str(sample_paths[0]), "--int8", "--threads", "1", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 0, result.output
    assert "1 images" in result.output


def test_unknown_model_is_a_clear_error_without_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "streetwatch", "detect", "--model", "no-such-model", "--out", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "error: no model 'no-such-model' in the zoo" in result.stderr
    assert "coco-yolov8n" in result.stderr and "Traceback" not in result.stderr


def test_corrupt_model_file_is_a_clear_error_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage")
    result = subprocess.run(
        [sys.executable, "-m", "streetwatch", "detect", "--model", str(bad), "--out", str(tmp_path / "o")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "not a loadable ONNX model" in result.stderr and "Traceback" not in result.stderr


def test_no_usable_image_exits_non_zero(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_text("not an image")
    result = runner.invoke(app, ["detect", str(tmp_path / "a.jpg"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "0 images, 0 detections, 1 skipped" in result.output


def test_ultralytics_backend_gives_the_same_boxes_as_onnx(tmp_path: Path, sample_paths: list[Path]) -> None:
    import pytest

    pytest.importorskip("torch")
    outputs = {}
    photo = REPO_ROOT / "samples" / "images" / "garbage-cn__000053.jpg"  # the default model finds things here
    for backend in ("onnx", "ultralytics"):
        out = tmp_path / backend
        result = runner.invoke(app, ["detect", str(photo), "--backend", backend, "--out", str(out)])
        assert result.exit_code == 0, result.output
        outputs[backend] = json.loads((out / "detections.json").read_text(encoding="utf-8"))["images"][0]
    onnx_boxes = [(d["class_name"], d["xyxy"]) for d in outputs["onnx"]["detections"]]
    torch_boxes = [(d["class_name"], d["xyxy"]) for d in outputs["ultralytics"]["detections"]]
    assert onnx_boxes and onnx_boxes == torch_boxes


def test_int8_with_the_ultralytics_backend_is_refused(tmp_path: Path, sample_paths: list[Path]) -> None:
    result = runner.invoke(
        app, ["detect", str(sample_paths[0]), "--backend", "ultralytics", "--int8", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "--int8 applies to the onnx backend only" in result.output


def test_the_default_model_finds_an_overflowing_bin_in_a_sample_photo(tmp_path: Path) -> None:
    photo = REPO_ROOT / "samples" / "images" / "garbage-cn__000053.jpg"  # bins overflowing beside a road
    result = runner.invoke(app, ["detect", str(photo), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "detections.json").read_text(encoding="utf-8"))
    assert report["model"] == "streetwatch-starter"
    found = {d["class_name"] for d in report["images"][0]["detections"]}
    assert "overflowing_bin" in found
