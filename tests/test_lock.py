"""The lock files: every environment the README commands build holds exactly what its lock pins (scripts/lockcheck.py,
which scripts/setup.sh also runs after every install), and the locks agree with each other and with pyproject.toml."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

LOCKS = REPO_ROOT / "requirements"
# scripts/lockcheck.py is a standalone script (it runs in .venv-render too), not a package module
_spec = importlib.util.spec_from_file_location("lockcheck", REPO_ROOT / "scripts" / "lockcheck.py")
assert _spec is not None and _spec.loader is not None
lockcheck = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lockcheck)


@pytest.mark.parametrize(
    ("lock", "allowed", "present", "expected"),
    [
        ({"numpy": "2.4.6"}, {}, {"numpy": "2.4.6", "pip": "23.2.1", "streetwatch": "0.1.0"}, []),
        ({"numpy": "2.4.6"}, {}, {"numpy": "2.4.5"}, ["numpy: locked 2.4.6, installed 2.4.5"]),
        ({"numpy": "2.4.6"}, {}, {}, ["numpy: locked 2.4.6, installed nothing"]),
        ({"numpy": "2.4.6"}, {}, {"numpy": "2.4.6", "lap": "0.5.12"}, ["lap 0.5.12: installed, not in the lock"]),
        ({"numpy": "2.4.6"}, {"lap": "0.5.12"}, {"numpy": "2.4.6", "lap": "0.5.12"}, []),
        ({"numpy": "2.4.6"}, {"lap": "0.5.12"}, {"numpy": "2.4.6", "lap": "0.5.11"},
         ["lap 0.5.11: installed, not in the lock"]),
    ],
)  # fmt: skip
def test_differences(lock, allowed, present, expected) -> None:  # type: ignore[no-untyped-def]
    assert lockcheck.differences(lock, allowed, present) == expected


def test_a_lock_is_read_as_normalized_pins_and_a_line_that_is_no_pin_is_refused(tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_text(
        "# header\nPyYAML==6.0.4 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n    # via x\n"
        "typing_extensions==4.16.0 ; python_version < '3.13' \\\n    --hash=sha256:cc\n"
    )
    assert lockcheck.read_lock(good) == {"pyyaml": "6.0.4", "typing-extensions": "4.16.0"}
    bad = tmp_path / "bad.txt"
    bad.write_text("numpy>=2\n")
    with pytest.raises(ValueError, match=r"bad.txt:1: expected 'name==version', got 'numpy>=2'"):
        lockcheck.read_lock(bad)


def test_every_locked_package_carries_hashes() -> None:
    for name in ("edge", "full", "render", "tools"):
        text = (LOCKS / f"{name}.txt").read_text()
        pins = [line for line in text.splitlines() if "==" in line and not line.startswith((" ", "#"))]
        assert pins, name
        assert all(line.endswith("\\") for line in pins), f"{name}.txt: a pin without --hash lines"


def test_edge_is_the_full_lock_restricted_to_the_edge_install() -> None:
    """Every package the edge and full environments share has one version: a model runs the same on both."""
    edge, full = (lockcheck.read_lock(LOCKS / f"{n}.txt") for n in ("edge", "full"))
    assert {name: full.get(name) for name in edge} == edge
    assert "opencv-python" not in full and "opencv-python-headless" in full  # requirements/overrides.txt


def test_this_environment_is_exactly_the_full_lock() -> None:
    """The test suite runs in the full .venv: `pip freeze` of it equals requirements/full.txt."""
    assert lockcheck.differences(lockcheck.read_lock(LOCKS / "full.txt"), {}, lockcheck.installed()) == []


@pytest.mark.skipif(not (REPO_ROOT / ".venv-render" / "bin" / "python").exists(), reason="no .venv-render set up")
def test_the_render_environment_is_exactly_its_lock() -> None:
    python = REPO_ROOT / ".venv-render" / "bin" / "python"
    result = subprocess.run(
        [str(python), str(REPO_ROOT / "scripts" / "lockcheck.py"), str(LOCKS / "render.txt")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
