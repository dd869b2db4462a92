"""Training configs are validated before anything starts (the 1-epoch offline run is in test_offline.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from models.train import load_train_config, resolve_data, resolve_init
from streetwatch.cli import app
from tests.conftest import REPO_ROOT

GOOD = "name: t1\ninit: coco-yolov8n\ndata: ds\nimgsz: 320\nepochs: 1\n"


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "train.yaml"
    path.write_text(text)
    return path


def test_the_shipped_starter_config_is_valid() -> None:
    config = load_train_config(REPO_ROOT / "models" / "config" / "starter.yaml")
    assert config.preset == "street" and config.imgsz % 32 == 0


@pytest.mark.parametrize("path", sorted((REPO_ROOT / "models" / "config").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_committed_config_is_valid(path: Path) -> None:
    """The GPU configs are run on a lent machine with minutes to spare: a mistake must show here, not there."""
    config = load_train_config(path)
    assert config.name and config.imgsz % 32 == 0 and config.data.startswith("../../data/datasets/")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("preset: sunny\n", "unknown augmentation preset 'sunny'"),
        ("hyper: {lr0: 0.01, mosiac: 1.0}\n", "unknown hyper-parameters ['mosiac']"),
        ("batchsize: 8\n", "Extra inputs are not permitted"),
    ],
)
def test_mistakes_in_a_config_are_named(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_train_config(_config(tmp_path, GOOD + extra))


def test_image_size_must_suit_the_network_stride(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="multiple of 32"):
        load_train_config(_config(tmp_path, GOOD.replace("imgsz: 320", "imgsz: 300")))


def test_weights_and_data_are_resolved_against_the_config(tmp_path: Path) -> None:
    config = load_train_config(_config(tmp_path, GOOD))
    assert resolve_init(config, tmp_path).name == "model.pt"  # a zoo name gives the zoo model's weights
    with pytest.raises(FileNotFoundError, match=r"has no data\.yaml"):
        resolve_data(config, tmp_path)
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "data.yaml").write_text("train: images/train\n")
    (tmp_path / "ds" / "manifest.json").write_text("{}")
    assert resolve_data(config, tmp_path) == (tmp_path / "ds").resolve()


def test_the_train_command_reports_a_bad_config(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["train", str(_config(tmp_path, GOOD)), "--runs", str(tmp_path / "runs")])
    assert result.exit_code == 2 and "has no data.yaml" in result.output
    assert not (tmp_path / "runs").exists()
