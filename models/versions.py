"""The writable model registry: retrained candidates, promoted versions, and which one is current.

The zoo (`models/zoo/`, in git) holds only shipped models. Everything a retraining run makes lives outside git, in
`STREETWATCH_REGISTRY_DIR` (default `data/registry`):

    <registry>/<name>/<version>/   model.pt, model.onnx, model.int8.onnx, card.json (status, parent, data, metrics)
    <registry>/current.json        {"reference": "name@version", "history": [earlier references, oldest first]}

"The current model" is the promoted reference in current.json if there is one, else the zoo default. current.json
is replaced atomically (write, fsync, rename), so a reader sees the old or the new pointer, never half of one; a
server or edge device that polls it (or its checksum over HTTP) swaps models without a restart.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from vision.errors import ModelLoadError
from vision.files import write_atomic

REPO_ROOT = Path(__file__).resolve().parents[1]
REGISTRY_ENV = "STREETWATCH_REGISTRY_DIR"
CURRENT_FILE = "current.json"
MODEL_FILES = ("model.pt", "model.onnx", "model.int8.onnx")
SAFE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
STATUSES = ("candidate", "promoted", "rejected", "rolled_back")


def registry_dir() -> Path:
    """Where retrained versions live: `$STREETWATCH_REGISTRY_DIR`, default `data/registry` of the repository."""
    # absolute: paths taken from it are written into training configs, which resolve against their own folder
    return Path(os.environ.get(REGISTRY_ENV) or REPO_ROOT / "data" / "registry").resolve()


def version_dir(reference: str, root: Path | None = None) -> Path | None:
    """The folder of a registered `name@version`, or None when the registry does not hold it."""
    name, _, version = reference.partition("@")
    if not version or not (SAFE_PART.match(name) and SAFE_PART.match(version)):
        return None  # also keeps "..", "/" and the like out of the path
    folder = (root or registry_dir()) / name / version
    return folder if (folder / "card.json").is_file() else None


def read_card(folder: Path) -> dict[str, Any]:
    with (folder / "card.json").open(encoding="utf-8") as handle:
        card: dict[str, Any] = json.load(handle)
    return card


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Replace `path` with `data` as JSON so that a concurrent reader sees the old file or the new one."""
    write_atomic(path, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_files(folder: Path) -> None:
    """Raise ModelLoadError unless every file the card lists is there with the sha256 the card records."""
    card = read_card(folder)
    files: dict[str, str] = card.get("files", {})
    if not files:
        raise ModelLoadError(f"{folder}: the card lists no files to check")
    for name, expected in files.items():
        path = folder / name
        if not path.is_file():
            raise ModelLoadError(f"{folder}: {name} is missing")
        actual = sha256_file(path)
        if actual != expected:
            raise ModelLoadError(f"{folder / name}: sha256 {actual} is not the card's {expected} (corrupt file?)")


def register(files: dict[str, Path], card: dict[str, Any], root: Path | None = None) -> Path:
    """Copy a new version's files into the registry and write its card (with their sha256); its folder."""
    root = root or registry_dir()
    folder = root / str(card["name"]) / str(card["version"])
    if folder.exists():
        raise FileExistsError(f"{folder} exists: model versions are never overwritten")
    folder.mkdir(parents=True)
    hashes = {}
    for name, source in files.items():
        shutil.copyfile(source, folder / name)
        hashes[name] = sha256_file(folder / name)
    write_json_atomic(folder / "card.json", {**card, "files": hashes})
    return folder


def read_current(root: Path | None = None) -> dict[str, Any]:
    """current.json as a dict ({"reference": None, "history": []} when nothing was ever promoted)."""
    path = (root or registry_dir()) / CURRENT_FILE
    if not path.is_file():
        return {"reference": None, "history": []}
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def promoted_reference(root: Path | None = None) -> str | None:
    """The promoted `name@version`, or None (then the zoo default serves)."""
    reference = read_current(root).get("reference")
    return str(reference) if reference else None


def set_status(folder: Path, status: str, **extra: Any) -> None:
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}; known: {', '.join(STATUSES)}")
    write_json_atomic(folder / "card.json", {**read_card(folder), "status": status, **extra})


def promote(reference: str, root: Path | None = None) -> dict[str, Any]:
    """Make `reference` the current model (its files must verify against its card); the new current.json."""
    root = root or registry_dir()
    folder = version_dir(reference, root)
    if folder is None:
        raise ModelLoadError(f"no version {reference!r} in the registry {root}")
    verify_files(folder)
    current = read_current(root)
    history = list(current.get("history", []))
    if current.get("reference") and current["reference"] != reference:
        history.append(current["reference"])
    set_status(folder, "promoted")
    updated = {"reference": reference, "history": history}
    write_json_atomic(root / CURRENT_FILE, updated)
    return updated


def rollback(root: Path | None = None) -> dict[str, Any]:
    """Go back to the previously promoted version (or to the zoo default when there was none)."""
    root = root or registry_dir()
    current = read_current(root)
    if not current.get("reference"):
        raise ModelLoadError("nothing was promoted: the zoo default is current already")
    folder = version_dir(current["reference"], root)
    if folder is not None:
        set_status(folder, "rolled_back")
    history = list(current.get("history", []))
    previous = history.pop() if history else None
    updated = {"reference": previous, "history": history}
    write_json_atomic(root / CURRENT_FILE, updated)
    return updated


def list_versions(root: Path | None = None) -> list[dict[str, Any]]:
    """Every registered version's card (without per-class details), oldest first."""
    root = root or registry_dir()
    cards = [read_card(card.parent) for card in root.glob("*/*/card.json")]
    return sorted(cards, key=lambda c: (c.get("created", ""), c["name"], c["version"]))
