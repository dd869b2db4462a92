"""`streetwatch evaluate` on a small dataset version built from the bundled samples."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from datasets.build import build_dataset
from streetwatch.cli import app
from tests.conftest import REPO_ROOT
from tests.factories import make_source_tree, source_config_yaml


def _dataset(tmp_path: Path) -> Path:
    root = tmp_path / "sources"
    make_source_tree(root, REPO_ROOT / "samples", "garbage-cn", "cn", val=8)
    cn_map = {"garbage": "exposed_garbage", "garbage_bin": None, "overflow": "overflowing_bin"}
    (tmp_path / "cn.yaml").write_text(source_config_yaml("cn", ["garbage", "garbage_bin", "overflow"], cn_map))
    (tmp_path / "build.yaml").write_text(f"name: eval-v1\nsources: [{tmp_path / 'cn.yaml'}]\n")
    target, _ = build_dataset(tmp_path / "build.yaml", tmp_path / "versions", root)
    return target


def test_evaluate_writes_the_report_and_refuses_a_model_of_other_classes(tmp_path: Path) -> None:
    data = _dataset(tmp_path)
    result = CliRunner().invoke(app, ["evaluate", "streetwatch-starter", str(data), "--out", str(tmp_path / "e")])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "e" / "metrics.json").read_text())
    per_class = {row["name"]: row for row in metrics["classes"]}
    assert metrics["images"] == 8 and per_class["overflowing_bin"]["instances"] > 0
    assert 0 <= per_class["overflowing_bin"]["ap50"] <= 1
    for name in ("report.md", "confusion_matrix.png", "pr_overflowing_bin.png"):
        assert (tmp_path / "e" / name).stat().st_size > 0
    other = CliRunner().invoke(app, ["evaluate", "coco-yolov8n", str(data), "--out", str(tmp_path / "c")])
    assert other.exit_code == 2 and "not the taxonomy's" in other.output


def test_evaluate_errors_lists_every_error_with_contact_sheets(tmp_path: Path) -> None:
    data = _dataset(tmp_path)
    out = tmp_path / "e"
    args = ["evaluate", "streetwatch-starter", str(data), "--out", str(out), "--errors", "--review-threshold", "0.6"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = (out / "errors.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("image,source,class,kind,cause,score")
    assert len(rows) > 1  # at 0.6 the starter misses some of the sample photos' objects
    kinds = {(row.split(",")[2], row.split(",")[3]) for row in rows[1:]}
    sheets = sorted(path.name for path in (out / "errors").glob("*.jpg"))
    assert sheets == sorted(f"cn.{name}.{kind}.jpg" for name, kind in kinds)  # the source is named "cn"
    assert "## Errors at the review threshold" in (out / "report.md").read_text(encoding="utf-8")
    assert f"{len(rows) - 1} errors in" in result.output


def test_evaluate_one_source_at_the_cameras_frame_size(tmp_path: Path) -> None:
    data = _dataset(tmp_path)
    runs = {}
    for name, extra in (("all", []), ("cn", ["--source", "cn"]), ("none", ["--source", "nope"])):
        args = ["evaluate", "streetwatch-starter", str(data), "--out", str(tmp_path / name), "--no-tiles", *extra]
        result = CliRunner().invoke(app, [*args, "--frame-size", "960x960"])
        assert result.exit_code == 0, result.output
        runs[name] = json.loads((tmp_path / name / "metrics.json").read_text())
    assert runs["cn"]["images"] == runs["all"]["images"] == 8 and runs["none"]["images"] == 0
    instances = {row["name"]: row["instances"] for row in runs["all"]["classes"]}
    assert instances["overflowing_bin"] > 0  # the labels scale with the frame: nothing is lost
    bad = CliRunner().invoke(app, ["evaluate", "streetwatch-starter", str(data), "--frame-size", "wide"])
    assert bad.exit_code != 0 and "expected WIDTHxHEIGHT" in bad.output
