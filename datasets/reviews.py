"""Review decisions → labels: a dataset version of reviewed evidence frames on top of a parent version.

Every decision is a label. A confirmed sighting (confirm, relabel, fix_box: the server has already applied the
corrected class and box to the sighting) becomes a box of its class on its evidence frame; a rejected sighting
becomes a hard negative: the frame is kept and that box is not labelled (a frame with only rejections is an
image without boxes). Decisions on the same frame are merged into one label file.

The version holds only the reviewed frames (its manifest's entries) and records its parent and the decision ids;
its `data.yaml` lists the parent's images next to its own, so training on it trains on parent + reviews without
copying the parent. Each frame goes to `train` or `val` by its sha256: the same frame lands in the same split in
every version, so the `val` slice is a frozen benchmark that is never trained on. A frame whose file is missing or
no longer has the sha256 recorded at ingest is refused and reported, never labelled.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from datasets.fingerprints import sha256_bytes
from datasets.manifest import Manifest, ManifestEntry, read_manifest
from datasets.yolo import Labels, format_labels
from vision.images import decode_image

SOURCE = "reviews"
LICENSE = "StreetWatch evidence (own capture, reviewed)"


@dataclass(frozen=True)
class ReviewRecord:
    """One decision with what the sighting looks like after it (class and box already corrected)."""

    decision_id: int
    sighting_id: int
    action: str  # confirm | reject | relabel | fix_box
    class_name: str
    box: tuple[float, float, float, float]  # xyxy pixels in the evidence frame
    frame_sha256: str
    frame_path: str
    decided: str = ""
    model: str = ""

    @property
    def positive(self) -> bool:
        return self.action != "reject"


@dataclass
class ReviewBuild:
    """What `build_review_dataset` wrote, and the frames it refused."""

    folder: Path
    manifest: Manifest
    refused: list[dict[str, object]] = field(default_factory=list)


def benchmark_split(frame_sha256: str, share: float) -> str:
    """'val' (the frozen benchmark slice) for about `share` of frames, by their hash; 'train' for the rest."""
    return "val" if int(frame_sha256[:8], 16) / 2**32 < share else "train"


def build_review_dataset(
    records: Sequence[ReviewRecord],
    parent: Path,
    out: Path,
    benchmark_share: float = 0.2,
) -> ReviewBuild:
    """Write the dataset version `out` (a new folder) from `records`; its name is the folder's name."""
    if out.exists():
        raise FileExistsError(f"{out} exists: dataset versions are never overwritten")
    if not 0 <= benchmark_share < 1:
        raise ValueError(f"benchmark_share must be in [0, 1), got {benchmark_share}")
    base = read_manifest(parent)
    class_names = base.classes
    by_frame: dict[str, list[ReviewRecord]] = {}
    for record in sorted(records, key=lambda r: r.decision_id):
        if record.positive and record.class_name not in class_names:
            raise ValueError(f"decision {record.decision_id}: class {record.class_name!r} not in {class_names}")
        by_frame.setdefault(record.frame_sha256, []).append(record)
    entries: list[ManifestEntry] = []
    refused: list[dict[str, object]] = []
    kept_ids: list[int] = []
    for sha, group in sorted(by_frame.items()):
        ids = [r.decision_id for r in group]
        data = _verified_bytes(group[0], sha)
        if isinstance(data, str):
            refused.append({"frame_sha256": sha, "decisions": ids, "reason": data})
            continue
        entries.append(_write_frame(out, class_names, sha, data, group, benchmark_split(sha, benchmark_share)))
        kept_ids += ids
    _write_data_yaml(out, parent, class_names)
    recipe = json.dumps([asdict(r) for r in records], sort_keys=True).encode()
    manifest = Manifest(
        name=out.name, parent=base.name, seed=0, config_sha256=hashlib.sha256(recipe).hexdigest(),
        classes=class_names,
        sources={SOURCE: {"origin": "review decisions", "commit": "", "license": LICENSE, "attribution": ""}},
        entries=tuple(entries), import_issues=len(refused), duplicates_dropped=0,
        review_decisions=tuple(sorted(kept_ids)),
    )  # fmt: skip
    manifest.write(out)
    details = {
        "parent": base.name,
        "benchmark_share": benchmark_share,
        "decisions": [{**asdict(r), "split": benchmark_split(r.frame_sha256, benchmark_share)} for r in records
                      if r.decision_id in set(kept_ids)],
        "refused": refused,
    }  # fmt: skip
    (out / "reviews.json").write_text(json.dumps(details, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return ReviewBuild(out, manifest, refused)


def _verified_bytes(record: ReviewRecord, sha: str) -> bytes | str:
    """The frame's bytes, or why it is refused."""
    path = Path(record.frame_path)
    if not path.is_file():
        return f"evidence file {path} is missing"
    data = path.read_bytes()
    actual = sha256_bytes(data)
    if actual != sha:
        return f"evidence file {path} has sha256 {actual}, not the {sha} recorded at ingest"
    return data


def _write_frame(
    root: Path, class_names: tuple[str, ...], sha: str, data: bytes, group: list[ReviewRecord], split: str
) -> ManifestEntry:
    image = decode_image(data, name=f"frame {sha[:12]}")
    h, w = image.shape[:2]
    positives = [r for r in group if r.positive]
    boxes = np.array([_clip(r.box, w, h) for r in positives], dtype=np.float64).reshape(-1, 4)
    ids = [class_names.index(r.class_name) for r in positives]
    labels = Labels.from_xyxy(boxes, ids, w, h) if positives else Labels.empty()
    stem = f"{SOURCE}__{sha[:16]}"
    image_path, label_path = Path("images") / split / f"{stem}.jpg", Path("labels") / split / f"{stem}.txt"
    for relative in (image_path, label_path):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
    (root / image_path).write_bytes(data)
    text = format_labels(labels)
    (root / label_path).write_text(text, encoding="utf-8")
    counts: dict[str, int] = {}
    for r in positives:
        counts[r.class_name] = counts.get(r.class_name, 0) + 1
    return ManifestEntry(
        image=image_path.as_posix(), image_sha256=sha, label=label_path.as_posix(),
        label_sha256=sha256_bytes(text.encode("utf-8")), split=split, source=SOURCE,
        source_image=f"{SOURCE}/evidence/{sha}.jpg", license=LICENSE, boxes=counts,
    )  # fmt: skip


def _clip(box: tuple[float, float, float, float], w: int, h: int) -> list[float]:
    x0, y0, x1, y1 = box
    clipped = [min(max(x0, 0), w), min(max(y0, 0), h), min(max(x1, 0), w), min(max(y1, 0), h)]
    if clipped[2] - clipped[0] < 1 or clipped[3] - clipped[1] < 1:
        raise ValueError(f"box {box} is empty inside a {w} x {h} frame")
    return clipped


def _write_data_yaml(root: Path, parent: Path, class_names: tuple[str, ...]) -> None:
    """Train and val are the parent's folders plus this version's (paths relative to this folder)."""
    root.mkdir(parents=True, exist_ok=True)
    for split in ("train", "val"):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
    up = os.path.relpath(parent.resolve(), root.resolve())
    names = "\n".join(f"  {i}: {name}" for i, name in enumerate(class_names))
    text = f"train: [{up}/images/train, images/train]\nval: [{up}/images/val, images/val]\nnames:\n{names}\n"
    (root / "data.yaml").write_text(text, encoding="utf-8")
