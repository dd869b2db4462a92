"""Import a real labelled source (YOLO folders) into the StreetWatch taxonomy, as its YAML config says."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from datasets.fingerprints import average_hash, sha256_bytes
from datasets.sources import datasets_dir
from datasets.splits import GroupedSplit, Thumbnail, assign_splits, near_identical_groups, thumbnail
from datasets.yolo import LabelIssue, Labels, read_labels
from vision.images import IMAGE_SUFFIXES
from vision.taxonomy import Taxonomy

logger = logging.getLogger(__name__)

SOURCE_CONFIGS = Path(__file__).resolve().parent / "config" / "sources"
SPLITS = ("train", "val")


class Relabel(BaseModel):
    """One box of a source that a person looked at and gave another class than the class map would."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    image: str = Field(description="the image's file name")
    source_class: str = Field(alias="from", description="the box's source class")
    centre: tuple[float, float] = Field(description="the box's normalised (cx, cy) as in its label file")
    to: str | None = Field(description="taxonomy class it becomes; null drops it")


# two label-file centres this close (normalised) are the same box: the files carry 6 decimals
RELABEL_TOLERANCE = 1e-5


class SourceConfig(BaseModel):
    """How one real source maps onto the taxonomy, and where it came from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(title="Name", description="short id used in file names and manifests")
    folder: str = Field(title="Folder", description="folder under the datasets directory")
    origin: str = Field(title="Origin", description="public address the data came from")
    commit: str = Field(title="Commit", description="commit of the origin repository")
    license: str = Field(title="Licence", description="licence of the images and labels")
    attribution: str = Field(title="Attribution", description="text to show wherever the images are used")
    classes: tuple[str, ...] = Field(min_length=1, title="Source classes", description="in source class-id order")
    map: dict[str, str | None] = Field(title="Class map", description="source class -> taxonomy class, null = drop")
    role: Literal["events", "negatives"] = Field(title="Role", description="positives, or background only")
    exclude_images_with: tuple[str, ...] = Field(
        default=(), title="Exclude", description="source classes whose presence keeps an image out entirely"
    )
    exclude_unlabelled: bool = Field(
        default=False, title="Exclude unlabelled", description="empty label files are unreliable: skip those images"
    )
    split: GroupedSplit | None = Field(
        default=None,
        title="Split",
        description="for a source that ships one folder of frames (images/ and labels/, no train/ and val/): how "
        "its frames are divided, whole groups of near-identical frames at a time (datasets/splits.py)",
    )
    relabel: tuple[Relabel, ...] = Field(
        default=(),
        title="Relabel",
        description="single boxes given another class than the map's, e.g. painted phone-number ads among graffiti",
    )
    ground_heights_m: dict[str, float] = Field(
        default_factory=dict,
        title="Ground references",
        description="source classes that stand on the ground, with their typical height in metres: they give the "
        "ground line and the scale for synthetic objects placed on the ground (street stalls)",
    )

    @model_validator(mode="after")
    def _map_covers_classes(self) -> SourceConfig:
        missing = [c for c in self.classes if c not in self.map]
        named = (*self.map, *self.exclude_images_with, *self.ground_heights_m, *(r.source_class for r in self.relabel))
        unknown = [c for c in named if c not in self.classes]
        if missing or unknown:
            raise ValueError(f"class map must name each source class once: missing {missing}, unknown {unknown}")
        if self.role == "negatives" and any(self.map.values()):
            raise ValueError("a 'negatives' source must map every class to null")
        return self


@dataclass(frozen=True)
class Example:
    """One image ready for a dataset: its labels in taxonomy ids, where it came from, and its fingerprints."""

    source: str
    split: str
    image: Path
    labels: Labels
    sha256: str
    ahash: int
    license: str
    label_path: Path
    source_image: str  # <source>/<path in the source folder>, as manifests name it


@dataclass
class SourceImport:
    """What importing a source produced and everything it refused, with reasons."""

    source: str
    examples: list[Example] = field(default_factory=list)
    issues: list[LabelIssue] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    dropped_boxes: Counter[str] = field(default_factory=Counter)
    relabelled: Counter[str] = field(default_factory=Counter)


def load_source_config(name_or_path: str | Path) -> SourceConfig:
    """A source config by name (from datasets/config/sources/) or by path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = SOURCE_CONFIGS / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in SOURCE_CONFIGS.glob("*.yaml")))
        raise ValueError(f"no source config {name_or_path!r}; known: {known}")
    return SourceConfig.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def import_source(config: SourceConfig, taxonomy: Taxonomy, root: Path | None = None) -> SourceImport:
    """Read every split of a source, validating each image and label line; see `SourceImport` for the report."""
    folder = (root or datasets_dir()) / config.folder
    if not folder.is_dir():
        raise FileNotFoundError(f"source {config.name}: folder {folder} does not exist")
    targets = {*config.map.values(), *(r.to for r in config.relabel)} - {None}
    unknown = sorted(str(t) for t in targets if t not in taxonomy.names)
    if unknown:
        raise ValueError(f"source {config.name}: {unknown} are not taxonomy classes ({', '.join(taxonomy.names)})")
    result = SourceImport(config.name)
    if config.split is not None:
        _import_unsplit(folder, config, config.split, taxonomy, result)
    else:
        _import_split(folder, config, taxonomy, result)
    logger.info(
        "%s: %d images, %d issues, %d excluded",
        config.name,
        len(result.examples),
        len(result.issues),
        len(result.excluded),
    )
    return result


def _import_split(folder: Path, config: SourceConfig, taxonomy: Taxonomy, result: SourceImport) -> None:
    """Import `images/<split>/*` with `labels/<split>/*.txt` for each split the source ships."""
    for split in SPLITS:
        images = folder / "images" / split
        if images.is_dir():
            for path in sorted(images.iterdir()):
                label = folder / "labels" / split / f"{path.stem}.txt"
                made = _import_image(path, label, split, folder, config, taxonomy, result)
                if made is not None:
                    result.examples.append(made[0])


def _import_unsplit(
    folder: Path, config: SourceConfig, split: GroupedSplit, taxonomy: Taxonomy, result: SourceImport
) -> None:
    """Import `images/*` with `labels/*.txt`, then give each group of near-identical frames one split."""
    images = folder / "images"
    if not images.is_dir():
        raise FileNotFoundError(f"source {config.name}: folder {images} does not exist")
    made = [
        _import_image(path, folder / "labels" / f"{path.stem}.txt", "", folder, config, taxonomy, result)
        for path in sorted(p for p in images.iterdir() if p.is_file())
    ]
    examples = [m for m in made if m is not None]
    groups = near_identical_groups([thumb for _, thumb in examples], split.similarity, split.max_shift)
    keys = [example.image.name for example, _ in examples]
    splits = assign_splits(keys, groups, split.val_fraction, split.seed)
    result.examples.extend(replace(e, split=s) for (e, _), s in zip(examples, splits, strict=True))


def _import_image(
    path: Path,
    label_path: Path,
    split: str,
    folder: Path,
    config: SourceConfig,
    taxonomy: Taxonomy,
    result: SourceImport,
) -> tuple[Example, Thumbnail] | None:
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        result.issues.append(LabelIssue(str(path), None, "not an image file", "image skipped"))
        return None
    data = path.read_bytes()
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    if image is None:
        result.issues.append(LabelIssue(str(path), None, "image cannot be decoded", "image skipped"))
        return None
    if not label_path.is_file():
        result.issues.append(LabelIssue(str(path), None, f"no label file {label_path.name}", "image skipped"))
        return None
    labels, issues = read_labels(label_path, len(config.classes))
    result.issues.extend(issues)
    names = [config.classes[c] for c in labels.class_ids]
    if set(names) & set(config.exclude_images_with) or (config.exclude_unlabelled and not names and not issues):
        result.excluded.append(str(path))
        return None
    targets = _targets(path, labels, names, config, result)
    keep = [i for i, target in enumerate(targets) if target is not None]
    result.dropped_boxes.update(name for name, target in zip(names, targets, strict=True) if target is None)
    ids = [taxonomy.names.index(str(targets[i])) for i in keep]
    mapped = Labels(labels.boxes[keep], np.array(ids, dtype=np.int64)) if keep else Labels.empty()
    pixels = np.asarray(image, np.uint8)
    example = Example(
        config.name,
        split,
        path,
        mapped,
        sha256_bytes(data),
        average_hash(pixels),
        config.license,
        label_path,
        f"{config.name}/{path.relative_to(folder).as_posix()}",
    )
    return example, thumbnail(pixels)


def _targets(
    path: Path, labels: Labels, names: list[str], config: SourceConfig, result: SourceImport
) -> list[str | None]:
    """The taxonomy class of each box: the class map's, or a relabel's where one names the box."""
    targets = [config.map[name] for name in names]
    for relabel in config.relabel:
        if relabel.image != path.name:
            continue
        match = [
            i
            for i, name in enumerate(names)
            if name == relabel.source_class and np.abs(labels.boxes[i, :2] - relabel.centre).max() <= RELABEL_TOLERANCE
        ]
        if len(match) != 1:
            where = f"{relabel.source_class} box at {relabel.centre}"
            result.issues.append(
                LabelIssue(str(path), None, f"relabel: {len(match)} boxes match the {where}", "relabel skipped")
            )
            continue
        targets[match[0]] = relabel.to
        result.relabelled[f"{relabel.source_class} -> {relabel.to}"] += 1
    return targets


def source_labels(example: Example, config: SourceConfig) -> Labels:
    """The example's boxes as its source labelled them (source class ids, nothing mapped or dropped)."""
    labels, _ = read_labels(example.label_path, len(config.classes))
    return labels
