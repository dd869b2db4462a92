"""`streetwatch dataset build`: real sources (and later synthetic generators) → one versioned YOLO dataset."""

from __future__ import annotations

import json
import logging
import random
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field

from datasets.compose.frames import ComposeInputs, compose_tiles
from datasets.compose.spec import ComposeSpec, check_sources
from datasets.fingerprints import sha256_bytes
from datasets.importers import Example, SourceConfig, SourceImport, import_source, load_source_config
from datasets.manifest import Manifest, ManifestEntry
from datasets.synthetic.generate import SyntheticSpec, generate
from datasets.tiles import TileSpec, cut_tiles
from datasets.yolo import Labels, format_labels
from vision.detector import Detector
from vision.taxonomy import Taxonomy, load_taxonomy

logger = logging.getLogger(__name__)

# 256-bit average hashes this close are the same photo (re-encoded, resized, slightly cropped).
DUPLICATE_MAX_BITS = 6


class BuildConfig(BaseModel):
    """A dataset version: its name, parent, seed and the sources it is made of."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="version name, also the folder name")
    parent: str | None = Field(default=None, description="version this one derives from")
    seed: int = Field(default=0, description="seed for every random choice of the build")
    sources: tuple[str, ...] = Field(min_length=1, description="source config names or paths")
    limit_per_source: int | None = Field(default=None, ge=1, description="random subset per source (quick builds)")
    synthetic: tuple[SyntheticSpec, ...] = Field(default=(), description="generators run on real backgrounds")
    tiles: tuple[TileSpec, ...] = Field(default=(), description="tiles cut from a source's wide frames")
    compose: tuple[ComposeSpec, ...] = Field(
        default=(), description="objects composed at patrol-view sizes onto a source's frames, cut into tiles"
    )


def load_build_config(path: Path) -> tuple[BuildConfig, str]:
    """The validated config and the sha256 of its text."""
    text = path.read_text(encoding="utf-8")
    return BuildConfig.model_validate(yaml.safe_load(text)), sha256_bytes(text.encode("utf-8"))


def build_dataset(
    config_path: Path, out_root: Path, datasets_root: Path | None = None, occluders: Detector | None = None
) -> tuple[Path, Manifest]:
    """Import, de-duplicate, compose and write the dataset under `out_root/<name>/`; never overwrites a version.

    `occluders` (the COCO model) marks people, cars and other objects in front of walls, where synthetic ads
    must not be pasted, and the parked cars and people of patrol frames, which composed objects must not cover;
    without it only the photos' own labels guide placement. Renders reused between builds (3D street stalls) are
    cached in `$STREETWATCH_CACHE_DIR/renders` (default ~/.cache/streetwatch/renders).
    """
    config, config_sha = load_build_config(config_path)
    target = out_root / config.name
    if target.exists():
        raise FileExistsError(f"dataset version {target} already exists; versions are immutable, pick a new name")
    taxonomy = load_taxonomy()
    sources = {source.name: source for source in map(load_source_config, config.sources)}
    if len(sources) != len(config.sources):
        raise ValueError(f"a build names each source once, got {list(config.sources)}")
    for compose_spec in config.compose:  # before the long import: a wrong name fails at once
        check_sources(compose_spec, sources, taxonomy.names)
    imports = [_import(source, taxonomy, datasets_root, config) for source in sources.values()]
    kept, duplicates = drop_cross_source_duplicates([e for imp in imports for e in imp.examples])
    staging = out_root / f".{config.name}.partial"
    if staging.exists():  # left by a build that died: ours to discard
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    entries = [
        _write_entry(staging, taxonomy.names, Entry(f"{e.source}__{e.image.stem}", e, e.image.read_bytes(), e.labels))
        for e in kept
    ]
    records = []
    for index, spec in enumerate(config.synthetic):
        backgrounds = _backgrounds(spec, kept, config.seed + index)
        source = sources[spec.backgrounds]
        for made in generate(spec, backgrounds, source, taxonomy, config.seed + index, occluders):
            entries.append(
                _write_entry(
                    staging,
                    taxonomy.names,
                    Entry(made.name, made.background, made.jpeg, made.labels, f"synthetic/{spec.generator}"),
                )
            )
            records.append({"image": entries[-1].image, **made.record})
    for index, tile_spec in enumerate(config.tiles):
        if tile_spec.source not in sources:
            raise ValueError(f"tiles: source {tile_spec.source!r} is not in this build's sources")
        frames = [e for e in kept if e.source == tile_spec.source]
        seed = config.seed + len(config.synthetic) + index
        for tile in cut_tiles(tile_spec, frames, sources[tile_spec.source], seed):
            entry = Entry(tile.name, tile.frame, tile.jpeg, tile.labels, f"tiles/{tile_spec.source}")
            entries.append(_write_entry(staging, taxonomy.names, entry))
            records.append({"image": entries[-1].image, **tile.record})
    for index, compose_spec in enumerate(config.compose):
        seed = config.seed + len(config.synthetic) + len(config.tiles) + index
        for tile in compose_tiles(compose_spec, ComposeInputs(kept, sources, taxonomy, occluders), seed):
            entry = Entry(tile.name, tile.frame, tile.jpeg, tile.labels, f"compose/{compose_spec.backgrounds}")
            entries.append(_write_entry(staging, taxonomy.names, entry))
            records.append({"image": entries[-1].image, **tile.record})
    (staging / "synthetic.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    (staging / "data.yaml").write_text(_data_yaml(taxonomy), encoding="utf-8")
    _write_report(staging, imports, duplicates)
    provenance = {
        name: {k: v for k, v in source.model_dump().items() if k in _PROVENANCE} for name, source in sources.items()
    }
    manifest = Manifest(
        name=config.name,
        parent=config.parent,
        seed=config.seed,
        config_sha256=config_sha,
        classes=taxonomy.names,
        sources=provenance,
        entries=tuple(sorted(entries, key=lambda e: (e.split, e.image))),
        import_issues=sum(len(imp.issues) for imp in imports),
        duplicates_dropped=len(duplicates),
    )
    manifest.write(staging)
    staging.rename(target)  # the version appears whole or not at all
    return target, manifest


_PROVENANCE = ("origin", "commit", "license", "attribution")


def _import(source: SourceConfig, taxonomy: Taxonomy, root: Path | None, config: BuildConfig) -> SourceImport:
    result = import_source(source, taxonomy, root)
    if config.limit_per_source is not None and len(result.examples) > config.limit_per_source:
        rng = random.Random(f"{config.seed}:{result.source}")
        result.examples = sorted(rng.sample(result.examples, config.limit_per_source), key=lambda e: str(e.image))
    return result


def drop_cross_source_duplicates(examples: list[Example]) -> tuple[list[Example], list[tuple[Example, Example]]]:
    """Keep the first of each photo found in two sources (same bytes or near-identical average hash)."""
    kept: list[Example] = []
    duplicates: list[tuple[Example, Example]] = []
    seen_sha: dict[str, Example] = {}
    hashes = np.zeros((0, 32), dtype=np.uint8)
    for example in examples:
        bits = np.frombuffer(example.ahash.to_bytes(32, "big"), dtype=np.uint8)
        twin = seen_sha.get(example.sha256)
        if twin is None and len(kept):
            distance = np.unpackbits(hashes ^ bits, axis=1).sum(axis=1)
            close = [i for i in np.nonzero(distance <= DUPLICATE_MAX_BITS)[0] if kept[i].source != example.source]
            twin = kept[close[0]] if close else None
        if twin is not None:
            duplicates.append((twin, example))
            continue
        seen_sha[example.sha256] = example
        kept.append(example)
        hashes = np.vstack([hashes, bits])
    return kept, duplicates


@dataclass(frozen=True)
class Entry:
    """What goes into the dataset: a file name stem, the photo it comes from, its bytes and labels."""

    name: str
    origin: Example
    data: bytes
    labels: Labels
    generator: str | None = None


def _write_entry(root: Path, class_names: tuple[str, ...], entry: Entry) -> ManifestEntry:
    origin = entry.origin
    suffix = ".jpg" if entry.generator else origin.image.suffix.lower()
    image = Path("images") / origin.split / f"{entry.name}{suffix}"  # a derivative keeps its photo's split
    label = Path("labels") / origin.split / f"{entry.name}.txt"
    for relative in (image, label):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
    (root / image).write_bytes(entry.data)  # real photos as they are: the hash proves they are the source's
    text = format_labels(entry.labels)
    (root / label).write_text(text, encoding="utf-8")
    counts: dict[str, int] = {}
    for class_id in entry.labels.class_ids:
        counts[class_names[class_id]] = counts.get(class_names[class_id], 0) + 1
    return ManifestEntry(
        image=image.as_posix(),
        image_sha256=sha256_bytes(entry.data),
        label=label.as_posix(),
        label_sha256=sha256_bytes(text.encode("utf-8")),
        split=origin.split,
        source=entry.generator or origin.source,
        source_image=origin.source_image,
        license=f"derived from {origin.source} ({origin.license})" if entry.generator else origin.license,
        boxes=counts,
    )


def _backgrounds(spec: SyntheticSpec, kept: list[Example], seed: int) -> list[Example]:
    photos = [e for e in kept if e.source == spec.backgrounds]
    if not photos:
        raise ValueError(f"synthetic {spec.generator}: no photos of source {spec.backgrounds!r} in this build")
    if spec.max_backgrounds is not None and len(photos) > spec.max_backgrounds:
        photos = sorted(random.Random(seed).sample(photos, spec.max_backgrounds), key=lambda e: str(e.image))
    return photos


def _data_yaml(taxonomy: Taxonomy) -> str:
    names = "\n".join(f"  {i}: {name}" for i, name in enumerate(taxonomy.names))
    # no `path:` line: ultralytics then resolves train/val against this file's folder
    return f"train: images/train\nval: images/val\nnames:\n{names}\n"


def _write_report(root: Path, imports: list[SourceImport], duplicates: list[tuple[Example, Example]]) -> None:
    report: dict[str, Any] = {
        imp.source: {
            "issues": [asdict(issue) for issue in imp.issues],
            "excluded": imp.excluded,
            "dropped_boxes": dict(sorted(imp.dropped_boxes.items())),
            "relabelled": dict(sorted(imp.relabelled.items())),
        }
        for imp in imports
    }
    report["cross_source_duplicates"] = [{"kept": str(a.image), "dropped": str(b.image)} for a, b in duplicates]
    (root / "import_report.json").write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
