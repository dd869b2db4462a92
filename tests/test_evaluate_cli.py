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
