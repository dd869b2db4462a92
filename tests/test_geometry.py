from __future__ import annotations

import numpy as np
import pytest

from vision.letterbox import letterbox, to_blob
from vision.nms import batched_nms, box_iou, nms


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([0, 0, 10, 10], [0, 0, 10, 10], 1.0),
        ([0, 0, 10, 10], [5, 0, 15, 10], 50 / 150),
        ([0, 0, 10, 10], [10, 10, 20, 20], 0.0),
        ([0, 0, 10, 10], [2, 2, 4, 4], 4 / 100),
        ([0, 0, 0, 0], [0, 0, 0, 0], 0.0),
    ],
)
def test_box_iou(a: list[float], b: list[float], expected: float) -> None:
    assert box_iou(np.array([a]), np.array([b]))[0, 0] == pytest.approx(expected, abs=1e-6)


def test_box_iou_is_pairwise() -> None:
    iou = box_iou(np.array([[0, 0, 10, 10], [0, 0, 5, 5]]), np.array([[0, 0, 10, 10], [0, 0, 5, 5], [50, 50, 60, 60]]))
    assert iou.shape == (2, 3)
    np.testing.assert_allclose(iou, [[1, 0.25, 0], [0.25, 1, 0]], atol=1e-6)


def test_nms_keeps_the_best_of_overlapping_boxes_in_score_order() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 10, 9]], dtype=np.float32)
    scores = np.array([0.6, 0.9, 0.5, 0.3], dtype=np.float32)
    assert nms(boxes, scores, iou_threshold=0.5).tolist() == [1, 2]
    assert nms(boxes, scores, iou_threshold=0.99).tolist() == [1, 0, 2, 3]


def test_batched_nms_never_suppresses_across_classes() -> None:
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]], dtype=np.float32)
    scores = np.array([0.9, 0.8, 0.7], dtype=np.float32)
    assert batched_nms(boxes, scores, np.array([0, 1, 0]), 0.5).tolist() == [0, 1]
    assert batched_nms(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64), 0.5).size == 0


@pytest.mark.parametrize("shape", [(480, 640), (640, 480), (1080, 1920), (100, 2000), (640, 640), (37, 51)])
def test_letterbox_places_the_image_like_ultralytics(shape: tuple[int, int]) -> None:
    pytest.importorskip("torch")
    from vision.ultralytics_env import import_ultralytics

    import_ultralytics()
    from ultralytics.data.augment import LetterBox

    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (*shape, 3), dtype=np.uint8)
    ours, _ = letterbox(image, (640, 640))
    theirs = LetterBox((640, 640), auto=False, stride=32)(image=image)
    assert ours.shape == theirs.shape == (640, 640, 3)
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("shape", [(480, 640), (1080, 1920), (640, 480)])
def test_letterbox_inverse_maps_boxes_back(shape: tuple[int, int]) -> None:
    image = np.zeros((*shape, 3), dtype=np.uint8)
    _, transform = letterbox(image, (640, 640))
    h, w = shape
    original = np.array([[0, 0, w, h], [w * 0.25, h * 0.5, w * 0.5, h * 0.75]], dtype=np.float32)
    in_input = original.copy()
    in_input[:, [0, 2]] = in_input[:, [0, 2]] * transform.gain_x + transform.pad_x
    in_input[:, [1, 3]] = in_input[:, [1, 3]] * transform.gain_y + transform.pad_y
    np.testing.assert_allclose(transform.to_original(in_input), original, atol=1e-3)


def test_boxes_outside_the_image_are_clipped() -> None:
    _, transform = letterbox(np.zeros((480, 640, 3), np.uint8), (640, 640))
    clipped = transform.to_original(np.array([[-50, 0, 700, 700]], dtype=np.float32))
    np.testing.assert_allclose(clipped, [[0, 0, 640, 480]])


def test_blob_is_rgb_nchw_in_unit_range() -> None:
    image = np.zeros((4, 4, 3), np.uint8)
    image[..., 0] = 255  # blue in BGR
    blob = to_blob([image, image])
    assert blob.shape == (2, 3, 4, 4) and blob.dtype == np.float32
    assert blob[0, 2].max() == 1.0 and blob[0, 0].max() == 0.0  # blue ends up as the last (B of RGB) channel
