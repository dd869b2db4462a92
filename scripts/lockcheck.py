"""Check that the running Python environment holds exactly what a lock file pins (scripts/setup.sh runs it).

Usage: python scripts/lockcheck.py requirements/full.txt [--allow requirements/other.txt] [--extras]
Exit 0 when every locked package is installed at its locked version and nothing else is installed (besides pip
and the project itself, installed editable on top). `--allow` admits packages of a second lock at that lock's
versions (an edge set-up inside a .venv that already holds the full install). `--extras` prints the names of
installed packages outside the lock(s), one per line, and exits 0: what set-up uninstalls before checking.
Standard library only: it runs in every environment, .venv-render's too.
"""

from __future__ import annotations

import argparse
import re
import sys
from importlib import metadata
from pathlib import Path

# installed by the venv itself, or the project installed editable on top of its lock
NOT_LOCKED = frozenset({"pip", "streetwatch"})
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def normalize(name: str) -> str:
    """PEP 503 name: lower case, runs of '-', '_', '.' as one '-'."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path) -> dict[str, str]:
    """{normalized name: version} of every `name==version` line; refuses a line it cannot read as a pin."""
    pins: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "--hash")):
            continue
        match = PIN.match(stripped)
        if match is None:
            raise ValueError(f"{path}:{number}: expected 'name==version', got {stripped!r}")
        pins[normalize(match.group(1))] = match.group(2)
    return pins


def installed() -> dict[str, str]:
    """{normalized name: version} of the distributions the running interpreter sees in its site-packages."""
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found.setdefault(normalize(name), dist.version)
    return found


def differences(lock: dict[str, str], allowed: dict[str, str], present: dict[str, str]) -> list[str]:
    """One line per way `present` differs from `lock` (extras tolerated only when `allowed` pins that version)."""
    problems = [
        f"{name}: locked {version}, installed {present.get(name, 'nothing')}"
        for name, version in sorted(lock.items())
        if present.get(name) != version
    ]
    problems += [f"{name} {present[name]}: installed, not in the lock" for name in extras(lock, allowed, present)]
    return problems


def extras(lock: dict[str, str], allowed: dict[str, str], present: dict[str, str]) -> list[str]:
    """Installed packages outside the lock, besides pip and the project, and besides `allowed` at its version."""
    return [
        name
        for name, version in sorted(present.items())
        if name not in lock and name not in NOT_LOCKED and allowed.get(name) != version
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lock", type=Path)
    parser.add_argument("--allow", type=Path, help="a second lock whose packages may also be installed")
    parser.add_argument("--extras", action="store_true", help="print installed packages outside the lock(s)")
    args = parser.parse_args(argv)
    lock = read_lock(args.lock)
    allowed = read_lock(args.allow) if args.allow else {}
    present = installed()
    if args.extras:
        sys.stdout.write("".join(name + "\n" for name in extras(lock, allowed, present)))
        return 0
    problems = differences(lock, allowed, present)
    if problems:
        sys.stderr.write(f"{sys.prefix} differs from {args.lock}:\n" + "".join(f"  {p}\n" for p in problems))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
