from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from streetwatch.cli import app

onnx = pytest.importorskip("onnx")
pytest.importorskip("ultralytics")


@pytest.mark.timeout(600)
def test_export_writes_fp32_and_int8_with_metadata_and_checks_them(
    tmp_path: Path, coco_pt: Path, sample_paths: list[Path]
) -> None:
    calibration = tmp_path / "calibration"
    calibration.mkdir()
    for path in sample_paths[::3]:
        shutil.copyfile(path, calibration / path.name)
    result = CliRunner().invoke(
        app,
        [
            "export",
            str(coco_pt),
            "--out",
            str(tmp_path / "out"),
            "--imgsz",
            "320",
            "--calibration",
            str(calibration),
            "--calibration-count",
            "8",
            "--check-count",
            "8",
        ],
    )
    assert result.exit_code == 0, result.output
    for name, precision in (("model.onnx", "fp32"), ("model.int8.onnx", "int8")):
        model = onnx.load(str(tmp_path / "out" / name))
        meta = {p.key: p.value for p in model.metadata_props}
        assert meta["precision"] == precision
        assert meta["imgsz"] == "[320, 320]"
        assert ast.literal_eval(meta["names"])[0] == "person"
    int8_size = (tmp_path / "out" / "model.int8.onnx").stat().st_size
    assert int8_size < (tmp_path / "out" / "model.onnx").stat().st_size / 2
    lines = result.output.splitlines()
    fp32_row = next(line for line in lines if line.startswith("onnx fp32"))
    assert "100.0%" in fp32_row
    assert any(line.startswith("onnx int8") for line in lines)


def test_export_without_datasets_says_where_it_looked(
    tmp_path: Path, coco_pt: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STREETWATCH_DATASETS_DIR", str(tmp_path / "nowhere"))
    result = CliRunner().invoke(app, ["export", str(coco_pt), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "nowhere does not exist" in result.output and "STREETWATCH_DATASETS_DIR" in result.output
