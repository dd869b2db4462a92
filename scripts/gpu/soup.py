"""Average the weights of ultralytics checkpoints of one architecture, parameter by parameter (a uniform "soup").

Floating-point tensors of the model's state dict (weights, biases, BatchNorm running statistics) are averaged in
float32; integer ones (BatchNorm's batch counters) are taken from the first checkpoint, as is everything else in it
(class names, training arguments). The result is saved in half precision like ultralytics' own stripped
checkpoints, and loads wherever those do (`streetwatch evaluate`, `init:` of a training config).

    python scripts/gpu/soup.py runs/soup.pt models/zoo/streetwatch-starter/model.pt runs/gpu3/starter-gpu-v3.best.pt
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path
from typing import Any


def average_checkpoints(paths: list[Path]) -> dict[str, Any]:
    """The first checkpoint with its model's floating-point tensors replaced by the mean over all of them."""
    import torch

    if len(paths) < 2:
        raise ValueError("a soup needs at least two checkpoints")
    checkpoints = [torch.load(path, map_location="cpu", weights_only=False) for path in paths]
    states = [checkpoint["model"].float().state_dict() for checkpoint in checkpoints]
    for path, state in zip(paths[1:], states[1:], strict=True):
        if state.keys() != states[0].keys() or any(state[k].shape != states[0][k].shape for k in state):
            raise ValueError(f"{path} is not the architecture of {paths[0]}")
    mean = {
        key: torch.stack([state[key] for state in states]).mean(0) if value.is_floating_point() else value
        for key, value in states[0].items()
    }
    soup = copy.copy(checkpoints[0])
    model = copy.deepcopy(checkpoints[0]["model"]).float()
    model.load_state_dict(mean)
    soup["model"] = model.half()
    soup["ema"] = None
    soup["optimizer"] = None
    return soup


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="where to write the averaged checkpoint")
    parser.add_argument("checkpoints", type=Path, nargs="+", help="ultralytics .pt checkpoints, same architecture")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(average_checkpoints(args.checkpoints), args.out)
    print(f"wrote {args.out}: the mean of {len(args.checkpoints)} checkpoints")  # noqa: T201 (a command-line report)


if __name__ == "__main__":
    main()
