"""Where the real labelled street photos live, and listing them."""

from __future__ import annotations

import os
from pathlib import Path

from vision.errors import StreetWatchError
from vision.images import IMAGE_SUFFIXES

REPO_ROOT = Path(__file__).resolve().parents[1]
# A checkout sits next to the team's shared folder; a user's clone points STREETWATCH_DATASETS_DIR elsewhere.
DEFAULT_DATASETS_DIR = REPO_ROOT.parent / "shared" / "datasets"
SOURCES = ("garbage-cn", "garbage-street", "facades-spb")


class DatasetsNotFoundError(StreetWatchError):
    """The folder with the real datasets is missing."""


def datasets_dir() -> Path:
    """The datasets folder: `STREETWATCH_DATASETS_DIR`, default `../shared/datasets` beside the repo."""
    return Path(os.environ.get("STREETWATCH_DATASETS_DIR", DEFAULT_DATASETS_DIR))


def list_images(split: str, sources: tuple[str, ...] = SOURCES) -> list[Path]:
    """Sorted image paths of one split (`train` or `val`) across `sources`; a clear error if none are there."""
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    root = datasets_dir()
    if not root.is_dir():
        raise DatasetsNotFoundError(
            f"datasets folder {root} does not exist; set STREETWATCH_DATASETS_DIR to the folder holding "
            f"{', '.join(SOURCES)}"
        )
    images: list[Path] = []
    for source in sources:
        folder = root / source / "images" / split
        if not folder.is_dir():
            raise DatasetsNotFoundError(f"{folder} does not exist (expected <source>/images/{split}/ in {root})")
        images.extend(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    return sorted(images)
