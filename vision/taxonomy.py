"""The event taxonomy (class names, 中文 names, 数字城管 categories, colours), loaded from YAML."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_TAXONOMY = Path(__file__).with_name("taxonomy.yaml")


class EventClass(BaseModel):
    """One class of street event the detector reports."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", title="Name", description="snake_case class name used in labels")
    zh: str = Field(min_length=1, title="中文名", description="Chinese name shown to reviewers")
    category: str = Field(min_length=1, title="数字城管 category", description="major — minor case category")
    color: str = Field(pattern=r"^#[0-9A-Fa-f]{6}$", title="Colour", description="#RRGGBB used for boxes")
    description: str = Field(default="", title="Description", description="what counts as this class")

    @property
    def bgr(self) -> tuple[int, int, int]:
        """The colour as an OpenCV BGR tuple."""
        r, g, b = (int(self.color[i : i + 2], 16) for i in (1, 3, 5))
        return (b, g, r)


class Taxonomy(BaseModel):
    """The ordered list of classes; a class's position is its id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    classes: tuple[EventClass, ...] = Field(min_length=1, title="Classes", description="in class-id order")

    @field_validator("classes")
    @classmethod
    def _unique_names(cls, classes: tuple[EventClass, ...]) -> tuple[EventClass, ...]:
        names = [c.name for c in classes]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"class names must be unique, repeated: {duplicates}")
        return classes

    @property
    def names(self) -> tuple[str, ...]:
        """Class names in id order."""
        return tuple(c.name for c in self.classes)

    def by_name(self, name: str) -> EventClass:
        """The class called `name`; `KeyError` naming the known classes otherwise."""
        for event_class in self.classes:
            if event_class.name == name:
                return event_class
        raise KeyError(f"unknown class {name!r}; known: {', '.join(self.names)}")


def load_taxonomy(path: Path | str | None = None) -> Taxonomy:
    """Read and validate a taxonomy YAML (default: the starter taxonomy shipped with `vision`).

    Parsed once per version of the file (its modification time and size): the server checks every sighting's
    class against it, and parsing YAML per request cost more than the rest of the ingest.
    """
    source = Path(path) if path is not None else DEFAULT_TAXONOMY
    stat = source.stat()
    return _parse_taxonomy(source.resolve(), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=16)
def _parse_taxonomy(source: Path, mtime_ns: int, size: int) -> Taxonomy:  # the Taxonomy is frozen: safe to share
    with source.open(encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    return Taxonomy.model_validate(raw)


def color_for(name: str, taxonomy: Taxonomy | None = None) -> tuple[int, int, int]:
    """BGR colour for a class: the taxonomy's colour if it has the class, else a stable colour from the name."""
    if taxonomy is not None and name in taxonomy.names:
        return taxonomy.by_name(name).bgr
    digest = hashlib.sha1(name.encode("utf-8")).digest()
    return (64 + digest[0] % 192, 64 + digest[1] % 192, 64 + digest[2] % 192)
