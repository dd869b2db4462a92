"""Import a real labelled source (YOLO folders) into the StreetWatch taxonomy, as its YAML config says."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from datasets.fingerprints import average_hash, sha256_bytes
from datasets.sources import IMAGE_SUFFIXES, datasets_dir
from datasets.yolo import LabelIssue, Labels, read_labels
from vision.taxonomy import Taxonomy

logger = logging.getLogger(__name__)

SOURCE_CONFIGS = Path(__file__).resolve().parent / "config" / "sources"
SPLITS = ("train", "val")


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
    ground_heights_m: dict[str, float] = Field(
        default_factory=dict,
        title="Ground references",
        description="source classes that stand on the ground, with their typical height in metres: they give the "
        "ground line and the scale for synthetic objects placed on the ground (street stalls)",
    )

    @model_validator(mode="after")
    def _map_covers_classes(self) -> SourceConfig:
        missing = [c for c in self.classes if c not in self.map]
        unknown = [c for c in (*self.map, *self.exclude_images_with, *self.ground_heights_m) if c not in self.classes]
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


@dataclass
class SourceImport:
    """What importing a source produced and everything it refused, with reasons."""

    source: str
    examples: list[Example] = field(default_factory=list)
    issues: list[LabelIssue] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    dropped_boxes: Counter[str] = field(default_factory=Counter)


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
    result = SourceImport(config.name)
    for split in SPLITS:
        images = folder / "images" / split
        if images.is_dir():
            for path in sorted(images.iterdir()):
                _import_image(path, folder / "labels" / split / f"{path.stem}.txt", split, config, taxonomy, result)
    logger.info(
        "%s: %d images, %d issues, %d excluded",
        config.name,
        len(result.examples),
        len(result.issues),
        len(result.excluded),
    )
    return result


def _import_image(
    path: Path, label_path: Path, split: str, config: SourceConfig, taxonomy: Taxonomy, result: SourceImport
) -> None:
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        result.issues.append(LabelIssue(str(path), None, "not an image file", "image skipped"))
        return
    data = path.read_bytes()
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    if image is None:
        result.issues.append(LabelIssue(str(path), None, "image cannot be decoded", "image skipped"))
        return
    if not label_path.is_file():
        result.issues.append(LabelIssue(str(path), None, f"no label file {label_path.name}", "image skipped"))
        return
    labels, issues = read_labels(label_path, len(config.classes))
    result.issues.extend(issues)
    names = [config.classes[c] for c in labels.class_ids]
    if set(names) & set(config.exclude_images_with) or (config.exclude_unlabelled and not names and not issues):
        result.excluded.append(str(path))
        return
    keep = [i for i, name in enumerate(names) if config.map[name] is not None]
    result.dropped_boxes.update(name for name in names if config.map[name] is None)
    ids = [taxonomy.names.index(str(config.map[names[i]])) for i in keep]
    mapped = Labels(labels.boxes[keep], np.array(ids, dtype=np.int64)) if keep else Labels.empty()
    result.examples.append(
        Example(
            config.name,
            split,
            path,
            mapped,
            sha256_bytes(data),
            average_hash(np.asarray(image, np.uint8)),
            config.license,
        )
    )


def source_labels(example: Example, config: SourceConfig) -> Labels:
    """The example's boxes as its source labelled them (source class ids, nothing mapped or dropped)."""
    path = example.image.parents[2] / "labels" / example.split / f"{example.image.stem}.txt"
    labels, _ = read_labels(path, len(config.classes))
    return labels
