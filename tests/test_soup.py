"""scripts/gpu/soup.py: a uniform weight average of ultralytics checkpoints, checked on the shipped zoo weights."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from tests.conftest import REPO_ROOT

STARTER = REPO_ROOT / "models" / "zoo" / "streetwatch-starter" / "model.pt"
COCO = REPO_ROOT / "models" / "zoo" / "coco-yolov8n" / "model.pt"


def _soup_module():
    spec = importlib.util.spec_from_file_location("soup", REPO_ROOT / "scripts" / "gpu" / "soup.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_average_is_the_mean_of_each_float_tensor_and_keeps_the_first_checkpoints_counters(tmp_path: Path) -> None:
    soup = _soup_module()
    shifted = torch.load(STARTER, map_location="cpu", weights_only=False)
    model = shifted["model"].float()
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.add_(0.5)
            else:
                tensor.add_(7)
    shifted["model"] = model.half()
    torch.save(shifted, tmp_path / "shifted.pt")

    averaged = soup.average_checkpoints([STARTER, tmp_path / "shifted.pt"])

    original_model = torch.load(STARTER, map_location="cpu", weights_only=False)["model"]
    original = original_model.float().state_dict()
    result = averaged["model"].float().state_dict()
    assert averaged["model"].names == original_model.names
    for key, value in original.items():
        if value.is_floating_point():
            torch.testing.assert_close(result[key], (value + value + 0.5) / 2, atol=2e-3, rtol=1e-3)
        else:
            assert torch.equal(result[key], value), key


def test_checkpoints_of_another_architecture_are_refused() -> None:
    soup = _soup_module()
    with pytest.raises(ValueError, match="not the architecture"):
        soup.average_checkpoints([STARTER, COCO])
    with pytest.raises(ValueError, match="at least two"):
        soup.average_checkpoints([STARTER])
