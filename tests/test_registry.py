from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from models.registry import DEFAULT_MODEL, ModelFormat, list_models, model_card, model_file
from vision.errors import ModelLoadError


def test_the_default_model_is_in_the_zoo_with_every_format() -> None:
    assert DEFAULT_MODEL in list_models()
    for model_format in ModelFormat:
        assert model_file(DEFAULT_MODEL, model_format).is_file()


def test_card_hashes_match_the_shipped_files() -> None:
    card = model_card(DEFAULT_MODEL)
    assert card["files"].keys() == {"model.pt", "model.onnx", "model.int8.onnx"}
    folder = model_file(DEFAULT_MODEL, ModelFormat.PYTORCH).parent
    for name, sha256 in card["files"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == sha256, name
    assert len(card["classes"]) == 80 and card["license"].startswith("AGPL-3.0")


def test_unknown_model_names_the_known_ones() -> None:
    with pytest.raises(ModelLoadError, match=r"no model 'nope' in the zoo .*known models: coco-yolov8n"):
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
