"""A month of reviews on a kind of scene the current model has seen little of: does retraining on them raise it?

    python -m benchmarks.review_withheld [--withhold 0.75] [--garbage-cn 600] [--imgsz 320] [--current-epochs 15]
                                         [--epochs 5] [--out runs/review-withheld]

`benchmarks.review_month` holds back half of garbage-street's 42 validation photos, because the starter saw all 376
training photos of that kind: 20 more photos add about 6% to what it knows, and a 20-photo benchmark moves by ±0.06
AP50 between its halves, so that run cannot show what a month of reviews brings. This one builds the weak model it
needs, from real photos only, on a scale two CPU cores can train:

1. A world: garbage-street's training photos and a seeded sample of garbage-cn's (the two real sources of exposed
   garbage), with their validation photos as the frozen benchmark (all 42 garbage-street photos and the same share
   of garbage-cn's). No photo of the benchmark is ever trained on.
2. The current model: the COCO YOLOv8n trained on the world without `--withhold` of garbage-street's training photos
   (chosen by hash), published into a scratch zoo, registered and promoted in a scratch registry. Like the starter
   it is weakest on exposed garbage in garbage-street scenes, here for want of those photos.
3. The month: the withheld photos reach a real server as that model's sightings, and the simulated reviewer of
   `benchmarks.review_month` decides each from the true labels (a true object the model never proposed stays
   unlabelled: reviews only label what the model flagged).
4. `streetwatch dataset from-reviews`, then `streetwatch retrain` (the world without the withheld photos, plus the
   reviewed frames) under the default gate, and a control fine-tune of the same epochs on the world alone, both
   from the current model. Prints AP50 on the frozen benchmark before and after, for the candidate and the control.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import time
from pathlib import Path
from typing import Any

import yaml

from benchmarks.review_month import (
    BASE,
    REPO,
    evaluate_control,
    log_outside_cli_runs,
    print_ap50_table,
    retrain_and_judge,
    review_and_export,
    train_control,
)
from datasets.manifest import read_manifest
from models.hardware import cpu_name


def make_world(base: Path, target: Path, garbage_cn: int, withhold: float) -> tuple[Path, list[Any]]:
    """The world without its withheld garbage-street training photos (links into `base`); those photos' entries."""
    manifest = read_manifest(base)
    rng = random.Random(0)
    entries = []
    for split in ("train", "val"):
        cn = sorted(
            (e for e in manifest.entries if e.split == split and e.source == "garbage-cn"), key=lambda e: e.image
        )
        share = (
            garbage_cn if split == "train" else round(garbage_cn * len(cn) / _count(manifest, "train", "garbage-cn"))
        )
        entries += sorted(rng.sample(cn, min(share, len(cn))), key=lambda e: e.image)
        entries += [e for e in manifest.entries if e.split == split and e.source == "garbage-street"]
    withheld = [e for e in entries if e.split == "train" and e.source == "garbage-street"
                and int(e.image_sha256[:8], 16) / 0xFFFFFFFF < withhold]  # fmt: skip
    withheld_images = {e.image for e in withheld}
    kept = tuple(e for e in entries if e.image not in withheld_images)
    if target.exists():
        shutil.rmtree(target)
    for entry in kept:
        for relative in (entry.image, entry.label):
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            (target / relative).symlink_to(base / relative)
    for split in ("train", "val"):
        for kind in ("images", "labels"):
            (target / kind / split).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(base / "data.yaml", target / "data.yaml")
    manifest.model_copy(update={"name": target.name, "parent": manifest.name, "entries": kept}).write(target)
    return target, withheld


def _count(manifest: Any, split: str, source: str) -> int:
    return sum(1 for e in manifest.entries if e.split == split and e.source == source)


def train_current(world: Path, out: Path, imgsz: int, epochs: int, seed: int) -> str:
    """COCO YOLOv8n trained on `world`, published to out/zoo, registered and promoted; its reference."""
    from models.publish import PublishOptions, publish
    from models.train import train
    from models.versions import promote, register

    config = {"name": "current", "init": "coco-yolov8n", "data": str(world), "imgsz": imgsz, "epochs": epochs,
              "batch": 16, "preset": "street", "seed": seed, "device": "cpu", "workers": 2}  # fmt: skip
    (out / "current.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    runs = out / "runs"
    if (runs / "current").exists():
        shutil.rmtree(runs / "current")
    run = train(out / "current.yaml", runs)
    use = "benchmarks.review_withheld only: the weak current model of a simulated month"
    folder = publish(run, "world-current", "1.0.0", PublishOptions(force=True, intended_use=use), zoo=out / "zoo")
    card = json.loads((folder / "card.json").read_text(encoding="utf-8"))
    files = {name: folder / name for name in ("model.pt", "model.onnx", "model.int8.onnx")}
    register(files, {**card, "status": "promoted"})
    return str(promote("world-current@1.0.0")["reference"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--withhold", type=float, default=0.75)
    parser.add_argument("--garbage-cn", type=int, default=600)
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--current-epochs", type=int, default=15)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr0", type=float, default=0.001)
    parser.add_argument("--seed", type=int, default=0, help="training seed of all three models (a replicate)")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "review-withheld")
    args = parser.parse_args()
    args.out = args.out.resolve()
    log_outside_cli_runs()
    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    os.environ["STREETWATCH_REGISTRY_DIR"] = str(args.out / "registry")
    settings = {"imgsz": args.imgsz, "epochs": args.epochs, "fraction": 1.0, "repeat": 1, "lr0": args.lr0,
                "seed": args.seed}  # fmt: skip
    timings: dict[str, float] = {}
    started = time.perf_counter()
    world, withheld = make_world(BASE, REPO / "data" / "datasets" / "world-withheld", args.garbage_cn, args.withhold)
    model = train_current(world, args.out, args.imgsz, args.current_epochs, args.seed)
    timings["current model"] = time.perf_counter() - started

    reviews = args.out / "reviews-withheld"
    counts = review_and_export(withheld, model, world, reviews)
    mark = time.perf_counter()
    judged = retrain_and_judge(world, reviews, args.out / "retrain", settings)
    timings["candidate"] = time.perf_counter() - mark

    mark = time.perf_counter()
    control = evaluate_control(train_control(world, reviews, args.out, model, settings), world, reviews, settings)
    timings["control"] = time.perf_counter() - mark

    kept_street = sum(1 for e in read_manifest(world).entries if e.split == "train" and e.source == "garbage-street")
    print(f"\n{cpu_name()}, 2 threads; world: {len(read_manifest(world).entries)} photos kept "
          f"({kept_street} garbage-street training photos; {len(withheld)} withheld as the month); current model "
          f"{args.current_epochs} epochs at {args.imgsz} px from COCO; month decisions "
          f"{json.dumps({k: v for k, v in counts.items() if k != 'objects'})} on {counts['objects']} true objects; "
          f"candidate and control {args.epochs} epochs, AdamW lr {args.lr0}; seed {args.seed}; "
          + ", ".join(f"{k} {v / 60:.0f} min" for k, v in timings.items()) + "\n")  # fmt: skip
    columns = {f"before ({model})": judged["current"], "after: candidate (reviews)": judged["candidate"],
               "after: control (no reviews)": control}  # fmt: skip
    print_ap50_table(columns, [("exposed_garbage, garbage-street photos", "garbage-street", "exposed_garbage"),
                               ("exposed_garbage, garbage-cn photos", "garbage-cn", "exposed_garbage"),
                               ("overflowing_bin, garbage-cn photos", "garbage-cn", "overflowing_bin"),
                               ("exposed_garbage, all photos", None, "exposed_garbage")])  # fmt: skip
    gate = judged["gate"]
    verdict = "promoted" if gate["promote"] else "rejected: " + "; ".join(gate["reasons"])
    print(f"\nGate (default rule: no class loses more than 0.02, the mean rises): {judged['reference']} {verdict}")


if __name__ == "__main__":
    main()
