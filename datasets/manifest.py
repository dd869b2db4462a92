"""Dataset manifests: what a dataset version holds, with hashes, provenance and counts; and its stats table."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

MANIFEST_NAME = "manifest.json"


class ManifestEntry(BaseModel):
    """One image of the dataset and its label file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    image: str = Field(description="path relative to the dataset folder")
    image_sha256: str
    label: str = Field(description="path relative to the dataset folder")
    label_sha256: str
    split: str
    source: str
    source_image: str = Field(description="the real photo it is (or was composed on): <source>/images/<split>/<file>")
    license: str
    boxes: dict[str, int] = Field(description="boxes per class in this image")


class Manifest(BaseModel):
    """A dataset version. Same config, seed and sources → byte-identical JSON (no timestamps, sorted)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    parent: str | None
    seed: int
    config_sha256: str
    classes: tuple[str, ...]
    sources: dict[str, dict[str, str]] = Field(description="name -> origin, commit, license, attribution")
    entries: tuple[ManifestEntry, ...]
    import_issues: int = Field(description="label lines and images refused at import; see import_report.json")
    duplicates_dropped: int
    review_decisions: tuple[int, ...] = Field(
        default=(), description="ids of the review decisions whose labels this version holds (datasets.reviews)"
    )

    def counts(self) -> dict[str, dict[str, int]]:
        """Boxes per class per split, plus images and negatives (images without boxes) per split."""
        table: dict[str, Counter[str]] = {}
        for entry in self.entries:
            row = table.setdefault(entry.split, Counter())
            row.update(entry.boxes)
            row["images"] += 1
            row["negatives"] += 0 if entry.boxes else 1
        return {split: dict(row) for split, row in sorted(table.items())}

    def write(self, folder: Path) -> Path:
        """Write manifest.json into `folder`."""
        path = folder / MANIFEST_NAME
        data = self.model_dump(mode="json")
        if not data["review_decisions"]:  # versions built from sources keep their byte-identical manifests
            del data["review_decisions"]
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
        return path


def read_manifest(folder: Path) -> Manifest:
    """The manifest of the dataset in `folder`."""
    path = folder / MANIFEST_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{folder} has no {MANIFEST_NAME}: not a dataset built by `streetwatch dataset build`")
    return Manifest.model_validate_json(path.read_text(encoding="utf-8"))


def format_stats(manifest: Manifest) -> str:
    """Plain-text tables: boxes per class and split, and images per source and split."""
    columns = [*manifest.classes, "images", "negatives"]
    counts = manifest.counts()
    lines = [f"dataset {manifest.name} (parent {manifest.parent or '-'})", ""]
    lines.append(" | ".join(["split", *columns]))
    for split, row in counts.items():
        lines.append(" | ".join([split, *(str(row.get(c, 0)) for c in columns)]))
    per_source: Counter[tuple[str, str]] = Counter((e.source, e.split) for e in manifest.entries)
    lines += ["", "source | split | images"]
    lines += [f"{source} | {split} | {n}" for (source, split), n in sorted(per_source.items())]
    lines += [
        "",
        f"import issues: {manifest.import_issues}, cross-source duplicates dropped: {manifest.duplicates_dropped}",
    ]
    return "\n".join(lines)
