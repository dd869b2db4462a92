"""Pack a dataset version into tar shards small enough for the lent GPU machine's 64 MiB per call.

Images whose long side exceeds `--max-side` are downscaled (INTER_AREA) and re-encoded as JPEG, which is what the
ultralytics loader would do anyway when it caches them at that training size; the others travel byte for byte.
Labels, data.yaml and manifest.json travel unchanged, so the run records the dataset version it came from.

    python scripts/gpu/pack.py data/datasets/base-v2 .gpu --max-side 640 --shard-mib 52
"""

from __future__ import annotations

import argparse
import io
import tarfile
from pathlib import Path

import cv2


def _image_bytes(path: Path, max_side: int, quality: int) -> bytes:
    data = path.read_bytes()
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{path}: not a readable image")
    height, width = image.shape[:2]
    if max(height, width) <= max_side:
        return data
    scale = max_side / max(height, width)
    small = cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"{path}: cannot re-encode")
    return encoded.tobytes()


def pack(dataset: Path, out: Path, max_side: int, quality: int, shard_mib: float, first_mib: float) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    members: list[tuple[str, bytes]] = []
    for name in ("data.yaml", "manifest.json"):
        members.append((name, (dataset / name).read_bytes()))
    for label in sorted((dataset / "labels").rglob("*.txt")):
        members.append((str(label.relative_to(dataset)), label.read_bytes()))
    # val first: the first shard also serves the smoke test, which trains a few batches and validates
    for split in ("val", "train"):
        for image in sorted((dataset / "images" / split).iterdir()):
            members.append((str(image.relative_to(dataset)), _image_bytes(image, max_side, quality)))
    shards: list[Path] = []
    tar: tarfile.TarFile | None = None
    size, limit = 0.0, first_mib
    for name, data in members:
        if tar is None or size + len(data) + 1024 > limit * 2**20:
            if tar is not None:
                tar.close()
                limit = shard_mib
            shards.append(out / f"shard{len(shards)}.tar")
            tar, size = tarfile.open(shards[-1], "w"), 0.0
        info = tarfile.TarInfo(f"{dataset.name}/{name}")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        size += len(data) + 1024
    if tar is not None:
        tar.close()
    return shards


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--max-side", type=int, default=640)
    parser.add_argument("--quality", type=int, default=92)
    parser.add_argument("--shard-mib", type=float, default=52.0)
    parser.add_argument("--first-mib", type=float, default=36.0, help="the first call also carries the wheels")
    args = parser.parse_args()
    for shard in pack(args.dataset, args.out, args.max_side, args.quality, args.shard_mib, args.first_mib):
        print(f"{shard}  {shard.stat().st_size / 2**20:.1f} MiB")  # noqa: T201 (a command-line report)


if __name__ == "__main__":
    main()
