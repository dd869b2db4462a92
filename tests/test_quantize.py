from __future__ import annotations

import json
from pathlib import Path

import pytest

from models.quantize import QuantizationConfig, _stays_fp32, floor_ranges

onnx = pytest.importorskip("onnx")


def test_floor_ranges_handles_both_cache_layouts(tmp_path: Path) -> None:
    cache = tmp_path / "ranges.json"
    cache.write_text(
        json.dumps(
            {
                "data": {
                    "a": {"lowest": -12.5, "highest": 3.0},
                    "b": {"lowest": {"data": [-9.0], "dtype": "float32", "CLS": "numpy.array"}, "highest": 1.0},
                    "c": {"lowest": -1.0, "highest": 2.0},
                    "d": {"lowest": -30.0, "highest": 2.0},
                }
            }
        )
    )
    assert floor_ranges(cache, {"a", "b", "c", "missing"}, -4.0) == 2
    data = json.loads(cache.read_text())["data"]
    assert data["a"]["lowest"] == -4.0
    assert data["b"]["lowest"]["data"] == [-4.0]
    assert data["c"]["lowest"] == -1.0  # already above the floor
    assert data["d"]["lowest"] == -30.0  # not a SiLU input


def test_the_shipped_graph_has_a_silu_per_conv_block_and_the_transpose_free_dfl(coco_onnx: Path) -> None:
    from models.onnx_graph import silu_inputs

    model = onnx.load(str(coco_onnx))
    assert len(silu_inputs(model)) == 57  # every Conv+BN+SiLU block of YOLOv8n
    assert not [node for node in model.graph.node if node.op_type in ("Softmax", "Transpose") and "dfl" in node.name]
    assert "/streetwatch/dfl/dfl_distance" in {node.name for node in model.graph.node}


@pytest.mark.parametrize(
    ("name", "fp32"),
    [
        ("/model.22/dfl/Softmax", True),
        ("/streetwatch/dfl/MatMul", True),
        ("/model.22/Concat_5", True),
        ("/model.22/cv3.0/cv3.0.2/Conv", False),
        ("/model.0/conv/Conv", True),
        ("/model.1/conv/Conv", True),
        ("/model.3/conv/Conv", False),
        ("/model.4/m.0/cv1/conv/Conv", False),
    ],
)
def test_which_nodes_stay_fp32(name: str, fp32: bool) -> None:
    assert _stays_fp32(name, QuantizationConfig()) is fp32


def test_too_few_calibration_images_is_a_clear_error(tmp_path: Path, coco_onnx: Path, sample_paths: list[Path]) -> None:
    from models.quantize import quantize_int8

    with pytest.raises(ValueError, match="needs at least 8 calibration images, got 3"):
        quantize_int8(coco_onnx, tmp_path / "q.onnx", sample_paths[:3])
