"""The package layout and import rules of DESIGN.md."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

# package -> top-level packages it must never import (DESIGN.md, "what may import what")
FORBIDDEN = {
    "vision": {"datasets", "models", "inference_server", "streetwatch", "torch", "ultralytics", "onnxruntime"},
    "datasets": {"models", "inference_server", "streetwatch"},
    "models": {"inference_server", "streetwatch"},
    "inference_server": {"models", "datasets", "streetwatch"},
    "streetwatch": set(),
    # the tests' and benchmarks' shared parts: the product never imports them, and they never import a test
    "testbed": {"streetwatch", "tests", "benchmarks"},
    "benchmarks": {"tests"},
}
for _product in ("vision", "datasets", "models", "inference_server", "streetwatch"):
    FORBIDDEN[_product] = FORBIDDEN[_product] | {"testbed", "tests", "benchmarks"}
# modules of a forbidden package that are allowed all the same: the server loads zoo models by name and follows
# the registry of retrained versions (hot swap)
ALLOWED_MODULES = {"inference_server": {"models.registry", "models.versions"}}
# heavy runtimes are allowed only inside their own backend module of `vision`
BACKEND_MODULES = {
    "vision/onnx_backend.py": {"onnxruntime"},
    "vision/ultralytics_backend.py": {"torch", "ultralytics"},
    "vision/ultralytics_env.py": {"ultralytics"},
}


def _imports(path: Path, allowed_modules: set[str] = frozenset()) -> set[str]:  # type: ignore[assignment]
    """Top-level packages a file imports, leaving out imports of `allowed_modules` (full dotted names)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return {module.split(".")[0] for module in modules if module not in allowed_modules}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_packages_respect_the_import_rules(package: str) -> None:
    violations = []
    for path in sorted((REPO_ROOT / package).rglob("*.py")):
        relative = path.relative_to(REPO_ROOT).as_posix()
        allowed = BACKEND_MODULES.get(relative, set())
        bad = (_imports(path, ALLOWED_MODULES.get(package, set())) & FORBIDDEN[package]) - allowed
        if bad:
            violations.append(f"{relative}: {sorted(bad)}")
    assert not violations, violations


def test_import_datasets_is_this_repo_not_hugging_face() -> None:
    import datasets

    assert Path(datasets.__file__).resolve().parent == REPO_ROOT / "datasets"


def test_design_packages_exist() -> None:
    for package in ("vision", "datasets", "models", "inference_server", "tests"):
        assert (REPO_ROOT / package / "__init__.py").is_file(), package
    assert (REPO_ROOT / "review_ui").is_dir()
