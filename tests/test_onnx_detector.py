from __future__ import annotations

import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO_ROOT
from vision.detector import Detector
from vision.errors import ImageError, ModelLoadError
from vision.onnx_backend import OnnxDetector, OnnxOptions
from vision.yolo_head import DetectionSettings


def test_class_names_and_input_size_come_from_the_model_metadata(onnx_detector: OnnxDetector) -> None:
    assert isinstance(onnx_detector, Detector)
    assert len(onnx_detector.class_names) == 80
    assert onnx_detector.class_names[:3] == ("person", "bicycle", "car")
    assert onnx_detector.input_size == (640, 640)
    assert onnx_detector.providers == ["CPUExecutionProvider"]


def test_finds_street_objects_in_real_photos(onnx_detector: OnnxDetector, sample_images: list[np.ndarray]) -> None:
    found: set[str] = set()
    for image in sample_images:
        det = onnx_detector.detect(image)
        h, w = image.shape[:2]
        assert (det.xyxy[:, [0, 2]] <= w).all() and (det.xyxy[:, [1, 3]] <= h).all() and (det.xyxy >= 0).all()
        assert (det.confidence >= 0.25).all()
        found |= {onnx_detector.class_names[c] for c in det.class_id}
    assert {"person", "car", "truck", "bicycle"} <= found


def test_batch_gives_the_same_result_as_one_by_one(
    onnx_detector: OnnxDetector, sample_images: list[np.ndarray]
) -> None:
    # same-shape frames (one camera) keep the minimal-rectangle letterbox in a batch, like one by one
    shapes = [image.shape for image in sample_images]
    common = max(set(shapes), key=shapes.count)
    images = [image for image in sample_images if image.shape == common][:4]
    assert len(images) >= 2
    batched = onnx_detector.detect_batch(images)
    for image, from_batch in zip(images, batched, strict=True):
        single = onnx_detector.detect(image)
        np.testing.assert_allclose(from_batch.xyxy, single.xyxy, atol=1e-2)
        np.testing.assert_array_equal(from_batch.class_id, single.class_id)


def test_mixed_shapes_in_one_batch_use_the_full_square(
    onnx_detector: OnnxDetector, coco_onnx: Path, sample_images: list[np.ndarray]
) -> None:
    images = sample_images[:2] + sample_images[-2:]
    assert len({image.shape for image in images}) > 1
    square = OnnxDetector(coco_onnx, DetectionSettings(rect=False))
    for image, from_batch in zip(images, onnx_detector.detect_batch(images), strict=True):
        np.testing.assert_allclose(from_batch.xyxy, square.detect(image).xyxy, atol=1e-2)


def test_one_instance_is_safe_to_share_between_threads(
    onnx_detector: OnnxDetector, sample_images: list[np.ndarray]
) -> None:
    images = sample_images[:8]
    expected = [onnx_detector.detect(image) for image in images]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(onnx_detector.detect, images * 3))
    for i, result in enumerate(results):
        np.testing.assert_array_equal(result.xyxy, expected[i % len(images)].xyxy)
        np.testing.assert_array_equal(result.class_id, expected[i % len(images)].class_id)


def test_gray_and_huge_images_are_handled(onnx_detector: OnnxDetector, sample_images: list[np.ndarray]) -> None:
    import cv2

    gray = cv2.cvtColor(sample_images[0], cv2.COLOR_BGR2GRAY)
    assert len(onnx_detector.detect(gray)) > 0
    huge = np.full((10_000, 10_000, 3), 128, np.uint8)
    huge[2000:8000, 2000:8000] = cv2.resize(sample_images[0], (6000, 6000))
    det = onnx_detector.detect(huge)
    assert len(det) > 0 and det.xyxy.max() <= 10_000


@pytest.mark.parametrize(
    ("array", "message"),
    [(np.zeros((0, 0, 3), np.uint8), "zero size"), (np.zeros((8, 8, 3), np.float64), "dtype uint8")],
)
def test_bad_arrays_are_refused_before_inference(onnx_detector: OnnxDetector, array: np.ndarray, message: str) -> None:
    with pytest.raises(ImageError, match=message):
        onnx_detector.detect(array)


def test_model_file_problems_are_named(tmp_path: Path, coco_onnx: Path) -> None:
    with pytest.raises(ModelLoadError, match="model file not found"):
        OnnxDetector(tmp_path / "missing.onnx")
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(coco_onnx.read_bytes()[:100_000])
    with pytest.raises(ModelLoadError, match="not a loadable ONNX model"):
        OnnxDetector(corrupt)
    text = tmp_path / "text.onnx"
    text.write_text("hello")
    with pytest.raises(ModelLoadError, match="not a loadable ONNX model"):
        OnnxDetector(text)


def test_model_without_class_names_is_refused(tmp_path: Path, coco_onnx: Path) -> None:
    onnx = pytest.importorskip("onnx")
    model = onnx.load(str(coco_onnx))
    kept = [p for p in model.metadata_props if p.key != "names"]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    path = tmp_path / "nameless.onnx"
    onnx.save(model, str(path))
    with pytest.raises(ModelLoadError, match="no readable 'names'"):
        OnnxDetector(path)


def test_thread_count_is_configurable(coco_onnx: Path, sample_images: list[np.ndarray]) -> None:
    one = OnnxDetector(coco_onnx, options=OnnxOptions(threads=1, providers=("CPUExecutionProvider",)))
    assert len(one.detect(sample_images[0])) > 0


def test_onnx_backend_never_imports_torch_or_ultralytics(coco_onnx: Path, sample_paths: list[Path]) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from vision.images import load_image
        from vision.onnx_backend import OnnxDetector
        detector = OnnxDetector({str(coco_onnx)!r})
        assert len(detector.detect(load_image({str(sample_paths[0])!r}))) > 0
        heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'ultralytics', 'torchvision'))
        print('HEAVY', heavy)
        sys.exit(1 if heavy else 0)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
