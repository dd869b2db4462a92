"""Evidence files: validated as images, stored content-addressed (by sha256), written atomically.

A file is written to a temporary name in the same folder, flushed to disk and renamed into place, so a crash
leaves either the whole file or none; two uploads of the same bytes share one file. The database row that refers
to a file is committed only after the file is in place.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from vision.errors import ImageError
from vision.images import ImageLimits, decode_image


class EvidenceError(ValueError):
    """Evidence that is not what it claims to be (not an image, too big, wrong hash)."""


def check_evidence(data: bytes, claimed_sha256: str, name: str, limits: ImageLimits) -> str:
    """The sha256 of `data` after checking it matches the claim and decodes as a photo within the limits."""
    digest = hashlib.sha256(data).hexdigest()
    if digest != claimed_sha256.lower():
        raise EvidenceError(f"{name}: sha256 {digest} does not match the metadata's {claimed_sha256}")
    try:
        decode_image(data, limits, name)
    except ImageError as error:
        raise EvidenceError(str(error)) from error
    return digest


def evidence_path(root: Path, sha256: str) -> Path:
    return root / sha256[:2] / f"{sha256}.jpg"


def store(root: Path, sha256: str, data: bytes) -> Path:
    """Write `data` at its content address (if it is not there already); returns the path."""
    return store_file(root / sha256[:2], f"{sha256}.jpg", data)


def store_many(root: Path, files: dict[str, bytes]) -> None:
    """`store` each of {sha256: bytes}, several at a time: file creation and fsync wait on the disk, not the CPU."""
    if len(files) <= 2:
        for sha256, data in files.items():
            store(root, sha256, data)
        return
    list(_writers.map(lambda item: store(root, *item), files.items()))


_writers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="evidence-writer")
_folders: set[Path] = set()  # folders known to exist: a mkdir per file costs more than the write


def store_file(folder: Path, name: str, data: bytes) -> Path:
    """Write `data` as `folder/name` atomically (temporary name, fsync, rename), unless it is there already."""
    target = folder / name
    if target.exists():
        return target
    if folder not in _folders:
        folder.mkdir(parents=True, exist_ok=True)
        _folders.add(folder)
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".incoming-")
    except FileNotFoundError:  # the folder went away since we saw it
        _folders.discard(folder)
        folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".incoming-")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def sweep_incoming(root: Path) -> int:
    """Delete temporary files a crash left mid-write (run at start, before any request); how many."""
    removed = 0
    for leftover in root.rglob(".incoming-*") if root.exists() else []:
        leftover.unlink(missing_ok=True)
        removed += 1
    return removed
