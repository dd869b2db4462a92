from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vision.images import load_image

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLES = sorted((REPO_ROOT / "samples" / "images").glob("*.jpg"))
ZOO = REPO_ROOT / "models" / "zoo" / "coco-yolov8n"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    try:
        import torch

        has_gpu = torch.cuda.is_available()
    except ImportError:
        has_gpu = False
    if not has_gpu:
        skip = pytest.mark.skip(reason="needs a CUDA GPU")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def sample_paths() -> list[Path]:
    assert len(SAMPLES) >= 20, f"expected >= 20 bundled sample photos, found {len(SAMPLES)}"
    return SAMPLES


@pytest.fixture(scope="session")
def sample_images(sample_paths: list[Path]) -> list[np.ndarray]:
    return [load_image(p) for p in sample_paths]


@pytest.fixture(scope="session")
def coco_pt() -> Path:
    return ZOO / "model.pt"


@pytest.fixture(scope="session")
def coco_onnx() -> Path:
    return ZOO / "model.onnx"


@pytest.fixture(scope="session")
def coco_int8() -> Path:
    return ZOO / "model.int8.onnx"


@pytest.fixture(scope="session")
def onnx_detector(coco_onnx: Path):  # type: ignore[no-untyped-def]
    from vision.onnx_backend import OnnxDetector, OnnxOptions

    return OnnxDetector(coco_onnx, options=OnnxOptions(threads=2))


@pytest.fixture(scope="session")
def ultralytics_detector(coco_pt: Path):  # type: ignore[no-untyped-def]
    pytest.importorskip("torch")
    from vision.ultralytics_backend import UltralyticsDetector

    return UltralyticsDetector(coco_pt, device="cpu")


@pytest.fixture(autouse=True)
def own_registry(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets an empty registry of retrained models (never the repository's data/registry)."""
    folder = tmp_path_factory.mktemp("registry")
    monkeypatch.setenv("STREETWATCH_REGISTRY_DIR", str(folder))
    return folder
