from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from models.registry import COCO_MODEL, DEFAULT_MODEL, ModelFormat, list_models, model_card, model_file
from vision.errors import ModelLoadError
from vision.taxonomy import load_taxonomy


def test_the_default_model_is_in_the_zoo_with_every_format() -> None:
    assert DEFAULT_MODEL in list_models()
    for model_format in ModelFormat:
        assert model_file(DEFAULT_MODEL, model_format).is_file()


@pytest.mark.parametrize("name", [DEFAULT_MODEL, COCO_MODEL])
def test_card_hashes_match_the_shipped_files(name: str) -> None:
    card = model_card(name)
    assert card["files"].keys() == {"model.pt", "model.onnx", "model.int8.onnx"}
    folder = model_file(name, ModelFormat.PYTORCH).parent
    for file, sha256 in card["files"].items():
        assert hashlib.sha256((folder / file).read_bytes()).hexdigest() == sha256, file
    assert card["license"].startswith("AGPL-3.0")


def test_the_default_model_is_ours_and_its_card_says_what_it_rests_on() -> None:
    card = model_card(DEFAULT_MODEL)
    assert tuple(card["classes"]) == load_taxonomy().names
    assert set(card["synthetic_only_classes"]) == {"illegal_ad", "street_stall", "dirty_facade"}
    assert card["training"]["dataset"]["name"] == "base-v2" and card["training"]["hardware"]
    per_class = {row["name"]: row for row in card["evaluation"]["onnx_fp32"]["classes"]}
    assert per_class["overflowing_bin"]["ap50"] > 0.8  # measured 0.905 when published
    assert len(model_card(COCO_MODEL)["classes"]) == 80


def test_unknown_model_names_the_known_ones() -> None:
    with pytest.raises(
        ModelLoadError, match=r"no model 'nope' in the zoo .*known models: coco-yolov8n, streetwatch-starter"
    ):
        model_file("nope")


def test_a_path_is_used_as_it_is(tmp_path: Path) -> None:
    weights = tmp_path / "m.onnx"
    weights.write_bytes(b"x")
    assert model_file(weights) == weights
    with pytest.raises(ModelLoadError, match="model file not found"):
        model_file(tmp_path / "missing.pt")


def test_a_version_can_be_pinned() -> None:
    version = model_card(DEFAULT_MODEL)["version"]
    assert model_file(f"{DEFAULT_MODEL}@{version}") == model_file(DEFAULT_MODEL)
    with pytest.raises(ModelLoadError, match=f"the zoo has {DEFAULT_MODEL} version {version}, not 9.9.9"):
        model_file(f"{DEFAULT_MODEL}@9.9.9")


def test_load_detector_gives_a_working_detector_by_name() -> None:
    from models.registry import load_detector

    detector = load_detector(DEFAULT_MODEL)
    assert tuple(detector.class_names) == tuple(model_card(DEFAULT_MODEL)["classes"])
    with pytest.raises(ValueError, match="unknown backend"):
        load_detector(DEFAULT_MODEL, backend="tensorrt")
