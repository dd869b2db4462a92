"""Small, checked edits of exported ONNX graphs: metadata and a faster DFL decode."""

from __future__ import annotations

from typing import Any

import numpy as np


def metadata(model: Any) -> dict[str, str]:
    """The model's metadata_props as a dict."""
    return {prop.key: prop.value for prop in model.metadata_props}


def set_metadata(model: Any, values: dict[str, str]) -> None:
    """Merge `values` into the model's metadata_props."""
    merged = {**metadata(model), **values}
    del model.metadata_props[:]
    for key, value in merged.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value


def rewrite_dfl_softmax(model: Any) -> bool:
    """Replace YOLOv8's DFL `Transpose → Softmax(axis=1) → Conv(16→1)` by `Transpose → Softmax(-1) → MatMul`.

    Same numbers (the Conv is a fixed 0..15 weighted sum), but onnxruntime's softmax over a non-last axis took
    2.9 ms of a 25 ms frame on a 2-core CPU; over the last axis it is a fraction of that. Returns False, changing
    nothing, when the graph has no such pattern.
    """
    from onnx import helper, numpy_helper

    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    softmaxes = [n for n in graph.node if n.op_type == "Softmax" and "dfl" in n.name]
    if len(softmaxes) != 1:
        return False
    softmax = softmaxes[0]
    transpose = producer.get(softmax.input[0])
    after = consumers.get(softmax.output[0], [])
    if transpose is None or transpose.op_type != "Transpose" or len(after) != 1 or after[0].op_type != "Conv":
        return False
    conv = after[0]
    weights = {init.name: init for init in graph.initializer}
    bins = numpy_helper.to_array(weights[conv.input[1]]).astype(np.float32)
    if bins.shape[:2] != (1, bins.size) or len(conv.input) > 2:
        return False
    graph.initializer.append(numpy_helper.from_array(bins.reshape(-1, 1), "streetwatch_dfl_bins"))
    source, target = transpose.input[0], conv.output[0]  # (B, 4, 16, A) in, (B, 1, 4, A) out
    replacement = [
        helper.make_node("Transpose", [source], ["dfl_last"], perm=[0, 1, 3, 2], name="/streetwatch/dfl/Transpose"),
        helper.make_node("Softmax", ["dfl_last"], ["dfl_softmax"], axis=-1, name="/streetwatch/dfl/Softmax"),
        helper.make_node(
            "MatMul", ["dfl_softmax", "streetwatch_dfl_bins"], ["dfl_sum"], name="/streetwatch/dfl/MatMul"
        ),
        helper.make_node("Transpose", ["dfl_sum"], [target], perm=[0, 3, 1, 2], name="/streetwatch/dfl/Transpose_1"),
    ]
    position = list(graph.node).index(transpose)
    for node in (transpose, softmax, conv):
        graph.node.remove(node)
    for offset, node in enumerate(replacement):
        graph.node.insert(position + offset, node)
    graph.initializer.remove(weights[conv.input[1]])
    return True


def silu_inputs(model: Any) -> set[str]:
    """Names of tensors `x` that feed a SiLU written as `Mul(x, Sigmoid(x))` (how YOLOv8 exports it)."""
    consumers: dict[str, list[Any]] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    found = set()
    for node in model.graph.node:
        if node.op_type != "Sigmoid":
            continue
        x, gate = node.input[0], node.output[0]
        if any(c.op_type == "Mul" and set(c.input) == {x, gate} for c in consumers.get(gate, [])):
            found.add(x)
    return found
