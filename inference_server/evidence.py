"""Evidence files: validated as images, stored content-addressed (by sha256), written atomically.

A file is written to a temporary name, flushed to disk and renamed into place, so a crash leaves either the whole
file or none; two uploads of the same bytes share one file. The database row that refers to a file is committed
only after the file is in place.

Temporary files live in the writing process's own folder (`<root>/.incoming/<pid>-<random>/`), locked (flock) for
the process's lifetime. At start a server sweeps the folders whose lock is free — their process is gone, so what
they hold was cut off by a crash — and leaves alone those of sibling workers (`serve --workers N`) still writing.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TextIO

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


CHUNK = 1024 * 1024  # bytes per read when hashing an upload


@dataclass(frozen=True)
class Part:
    """An uploaded evidence file where the request's parser left it (a spooled temporary file: on disk past 1 MiB),
    with its size and sha256 taken in 1 MiB reads. Its bytes are read only to check and to store it, one part at a
    time, so a batch never holds all its files in memory at once."""

    file: BinaryIO
    size: int
    sha256: str

    @classmethod
    def of(cls, file: BinaryIO) -> Part:
        file.seek(0)
        digest, size = hashlib.sha256(), 0
        while chunk := file.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
        return cls(file, size, digest.hexdigest())

    def read(self) -> bytes:
        self.file.seek(0)
        return self.file.read()

    def read_within(self, max_bytes: int, name: str) -> bytes:
        """Its bytes, or an `EvidenceError` without reading them when it is over `max_bytes`."""
        if self.size > max_bytes:
            raise EvidenceError(f"{name}: {self.size} bytes is larger than the limit of {max_bytes} bytes")
        return self.read()


def check_part(part: Part, claimed_sha256: str, name: str, limits: ImageLimits) -> str:
    """`check_evidence` of an uploaded part; one over the byte limit is refused before it is read into memory."""
    return check_evidence(part.read_within(limits.max_bytes, name), claimed_sha256, name, limits)


def evidence_path(root: Path, sha256: str) -> Path:
    return root / sha256[:2] / f"{sha256}.jpg"


def store(root: Path, sha256: str, data: bytes) -> Path:
    """Write `data` at its content address (if it is not there already); returns the path."""
    return store_file(root / sha256[:2], f"{sha256}.jpg", data, incoming=root)


def store_many(root: Path, parts: Mapping[str, Part]) -> None:
    """`store` each of {sha256: part}, several at a time (file creation and fsync wait on the disk, not the CPU);
    each writer reads its part's bytes itself, so at most as many files as writers are in memory."""

    def write(sha256: str) -> None:
        if not evidence_path(root, sha256).exists():  # a retry's files are there already: no need to read them
            store(root, sha256, parts[sha256].read())

    if len(parts) <= 2:
        for sha256 in parts:
            write(sha256)
        return
    list(_writers.map(write, parts))


_writers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="evidence-writer")
_folders: set[Path] = set()  # folders known to exist: a mkdir per file costs more than the write


def store_file(folder: Path, name: str, data: bytes, incoming: Path) -> Path:
    """Write `data` as `folder/name` atomically (temporary file in this process's area under `incoming`, fsync,
    rename), unless it is there already. `incoming` must be on the same file system as `folder`."""
    target = folder / name
    if target.exists():
        return target
    if folder not in _folders:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        _folders.add(folder)
    handle, temporary = tempfile.mkstemp(dir=_area(incoming))
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.replace(temporary, target)
        except FileNotFoundError:  # the target folder went away since we saw it
            _folders.discard(folder)
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def scratch_file(root: Path, data: bytes, suffix: str) -> Path:
    """`data` in a temporary file (named `*<suffix>`) in this process's area under `root`, to check before keeping;
    the caller deletes it. What a killed process left there is swept at the next start (`sweep_incoming`)."""
    handle, temporary = tempfile.mkstemp(dir=_area(root), suffix=suffix)
    with os.fdopen(handle, "wb") as file:
        file.write(data)
    return Path(temporary)


_areas: dict[Path, tuple[Path, TextIO]] = {}
_areas_lock = threading.Lock()


def _area(root: Path) -> Path:
    """This process's locked folder for half-written files under `root/.incoming` (made on first use)."""
    with _areas_lock:
        known = _areas.get(root)
        if known is not None and known[0].is_dir():
            return known[0]
        folder = root / ".incoming" / f"{os.getpid()}-{secrets.token_hex(4)}"
        folder.mkdir(mode=0o700, parents=True)
        lock = open(folder / ".lock", "w")
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        _areas[root] = (folder, lock)
        return folder


def close_areas(*roots: Path) -> None:
    """Remove this process's (empty) areas under `roots`; at shutdown."""
    with _areas_lock:
        for root in roots:
            known = _areas.pop(root, None)
            if known is not None:
                shutil.rmtree(known[0], ignore_errors=True)
                known[1].close()


def sweep_incoming(root: Path) -> int:
    """Delete what crashed writers left under `root` (run at start); how many files.

    An area whose lock can be taken belongs to a process that is gone; a locked one to a live sibling worker. A
    folder without a lock file was cut off between its creation and its lock: it holds nothing. Temporary files
    of the older layout (`.incoming-*` beside their target) are removed too.
    """
    removed = 0
    areas = root / ".incoming"
    for folder in areas.iterdir() if areas.is_dir() else []:
        try:
            with open(folder / ".lock") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                removed += sum(1 for f in folder.iterdir() if f.name != ".lock")
                shutil.rmtree(folder)
        except (BlockingIOError, FileNotFoundError, NotADirectoryError):
            continue
    for leftover in root.rglob(".incoming-*") if root.exists() else []:
        leftover.unlink(missing_ok=True)
        removed += 1
    return removed
