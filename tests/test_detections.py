from __future__ import annotations

import numpy as np
import pytest

from tests.factories import make_detections
from vision.detections import Detections


def test_inputs_are_converted_to_the_documented_dtypes() -> None:
    det = Detections([[0, 0, 10, 20]], [0.5], [3])
    assert det.xyxy.dtype == np.float32 and det.confidence.dtype == np.float32 and det.class_id.dtype == np.int64
    assert len(det) == 1 and det.tracker_id is None


@pytest.mark.parametrize(
    ("xyxy", "confidence", "class_id", "message"),
    [
        (np.zeros((2, 3)), np.zeros(2), np.zeros(2), r"xyxy: expected shape \('N', 4\), got \(2, 3\)"),
        (np.zeros((2, 4)), np.zeros(3), np.zeros(2), r"confidence: expected shape \(2,\), got \(3,\)"),
        (np.zeros((2, 4)), np.zeros(2), np.zeros((2, 1)), r"class_id: expected shape \(2,\), got \(2, 1\)"),
    ],
)
def test_shape_errors_state_expected_and_actual(xyxy, confidence, class_id, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        Detections(xyxy, confidence, class_id)


def test_tracker_id_shape_is_checked() -> None:
    with pytest.raises(ValueError, match=r"tracker_id: expected shape \(1,\), got \(2,\)"):
        Detections([[0, 0, 1, 1]], [0.5], [0], tracker_id=[1, 2])


def test_is_frozen() -> None:
    det = Detections.empty()
    with pytest.raises(AttributeError):
        det.xyxy = np.zeros((1, 4))  # type: ignore[misc]


def test_empty_and_selection() -> None:
    assert len(Detections.empty()) == 0
    det = make_detections([(0, 0, 10, 10, 0.9, 1), (5, 5, 15, 25, 0.3, 2)])
    strong = det[det.confidence > 0.5]
    assert len(strong) == 1 and strong.class_id.tolist() == [1]
    np.testing.assert_allclose(det.area, [100.0, 200.0])


def test_records_name_the_class() -> None:
    det = make_detections([(1, 2, 3, 4, 0.87654, 1)])
    assert det.to_records(("a", "b")) == [
        {"class_id": 1, "class_name": "b", "confidence": 0.8765, "xyxy": [1.0, 2.0, 3.0, 4.0]}
    ]
