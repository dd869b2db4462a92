from __future__ import annotations

import numpy as np
import pytest

from tests.factories import make_head_output
from vision.letterbox import letterbox
from vision.yolo_head import DetectionSettings, decode_yolo_output


def _identity_transform():  # type: ignore[no-untyped-def]
    return letterbox(np.zeros((640, 640, 3), np.uint8), (640, 640))[1]


def test_decodes_boxes_scores_and_classes() -> None:
    output = make_head_output([(100, 100, 20, 40, 2, 0.9), (300, 200, 50, 50, 0, 0.6)], nc=3)
    (det,) = decode_yolo_output(output, [_identity_transform()], DetectionSettings())
    assert det.class_id.tolist() == [2, 0]
    np.testing.assert_allclose(det.confidence, [0.9, 0.6], atol=1e-6)
    np.testing.assert_allclose(det.xyxy, [[90, 80, 110, 120], [275, 175, 325, 225]], atol=1e-4)


def test_threshold_overlap_and_max_detections() -> None:
    output = make_head_output(
        [(100, 100, 20, 20, 0, 0.9), (101, 100, 20, 20, 0, 0.8), (101, 100, 20, 20, 1, 0.7), (400, 400, 9, 9, 1, 0.2)],
        nc=2,
    )
    transforms = [_identity_transform()]
    (det,) = decode_yolo_output(output, transforms, DetectionSettings(confidence_threshold=0.25, iou_threshold=0.5))
    order = np.argsort(det.class_id)
    assert det.class_id[order].tolist() == [0, 1]
    np.testing.assert_allclose(det.confidence[order], [0.9, 0.7], atol=1e-6)
    (top,) = decode_yolo_output(output, transforms, DetectionSettings(max_detections=1))
    assert len(top) == 1 and top.confidence[0] == pytest.approx(0.9)


def test_maps_back_through_the_letterbox() -> None:
    _, transform = letterbox(np.zeros((320, 640, 3), np.uint8), (640, 640))  # gain 1.0, 160 px padding top
    (det,) = decode_yolo_output(
        make_head_output([(320, 320, 100, 100, 0, 0.9)], nc=1), [transform], DetectionSettings()
    )
    np.testing.assert_allclose(det.xyxy, [[270, 110, 370, 210]], atol=1e-4)


def test_empty_when_nothing_passes_the_threshold() -> None:
    (det,) = decode_yolo_output(make_head_output([], nc=4), [_identity_transform()], DetectionSettings())
    assert len(det) == 0


@pytest.mark.parametrize("shape", [(2, 8, 10), (1, 4, 10), (8, 10)])
def test_wrong_output_shape_is_explained(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="expected YOLO head output of shape"):
        decode_yolo_output(np.zeros(shape, np.float32), [_identity_transform()], DetectionSettings())


@pytest.mark.parametrize(
    ("field", "value"), [("confidence_threshold", 1.5), ("iou_threshold", -0.1), ("max_detections", 0)]
)
def test_settings_are_validated(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        DetectionSettings(**{field: value})
