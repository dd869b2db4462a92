"""Detector speed: ultralytics' own `predict` vs our backends, same weights, same photos, same run.

    python benchmarks/detector.py [--rounds 5] [--model coco-yolov8n] [--json out.json]

Prints one Markdown table (ms/frame and frames/s, end to end: numpy BGR image in, boxes out, pre- and
post-processing included) and the machine it ran on. Rounds interleave the backends so drift in machine load
hits all of them alike.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from models.hardware import cpu_name
from models.registry import DEFAULT_MODEL, ModelFormat, model_file
from vision.images import load_image
from vision.onnx_backend import OnnxDetector, OnnxOptions
from vision.ultralytics_env import import_ultralytics

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "images"


def machine() -> str:
    cpu = cpu_name()
    import onnxruntime
    import torch

    import_ultralytics()
    import ultralytics

    return (
        f"{cpu}, {len(__import__('os').sched_getaffinity(0))} cores, Python {platform.python_version()}, "
        f"torch {torch.__version__}, ultralytics {ultralytics.__version__}, onnxruntime {onnxruntime.__version__}"
    )


def backends(model: str) -> tuple[dict[str, Callable[[np.ndarray], Any]], int]:
    """The four ways to run `model`, all at the input size its ONNX export was made for; and that size."""
    import torch

    ultralytics = import_ultralytics()
    yolo = ultralytics.YOLO(str(model_file(model, ModelFormat.PYTORCH)))
    fp32 = OnnxDetector(model_file(model, ModelFormat.ONNX), options=OnnxOptions(threads=2))
    int8 = OnnxDetector(model_file(model, ModelFormat.ONNX_INT8), options=OnnxOptions(threads=2))
    size = max(fp32.input_size)

    def predict_with(threads: int) -> Callable[[np.ndarray], Any]:
        def run(image: np.ndarray) -> Any:
            torch.set_num_threads(threads)
            return yolo.predict(image, imgsz=size, device="cpu", verbose=False)

        return run

    # Ultralytics leaves torch at NUM_THREADS = cores - 1 (1 on a 2-core machine); 2 threads is its best here.
    return {
        "ultralytics predict, CPU, 2 torch threads": predict_with(2),
        "ultralytics predict, CPU, 1 torch thread (its own setting on 2 cores)": predict_with(1),
        "OnnxDetector fp32, 2 threads": fp32.detect,
        "OnnxDetector int8, 2 threads": int8.detect,
    }, size


def measure(
    runs: dict[str, Callable[[np.ndarray], Any]], images: list[np.ndarray], rounds: int
) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {name: [] for name in runs}
    for run in runs.values():  # warm-up
        for image in images[:3]:
            run(image)
    for _ in range(rounds):
        for name, run in runs.items():
            for image in images:
                start = time.perf_counter()
                run(image)
                timings[name].append((time.perf_counter() - start) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    images = [load_image(p) for p in sorted(SAMPLES.glob("*.jpg"))]
    runs, size = backends(args.model)
    timings = measure(runs, images, args.rounds)
    tuned, as_installed = (statistics.mean(values) for values in list(timings.values())[:2])
    print(f"Machine: {machine()}")
    print(
        f"Model: {args.model}, input up to {size} px, minimal-rectangle letterbox (ultralytics' predict default) for "
        f"all, {len(images)} photos x {args.rounds} rounds, batch 1\n"
    )
    print(
        "| backend | median ms/frame | mean ms/frame | frames/s | vs ultralytics 2 threads | vs ultralytics 1 thread |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    rows = []
    for name, values in timings.items():
        mean = statistics.mean(values)
        row = {
            "backend": name,
            "median_ms": statistics.median(values),
            "mean_ms": mean,
            "fps": 1000 / mean,
            "speedup_vs_2_threads": tuned / mean,
            "speedup_vs_1_thread": as_installed / mean,
        }
        rows.append(row)
        print(
            f"| {name} | {row['median_ms']:.1f} | {mean:.1f} | {row['fps']:.1f} | "
            f"{row['speedup_vs_2_threads']:.2f}x | {row['speedup_vs_1_thread']:.2f}x |"
        )
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
