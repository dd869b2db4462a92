from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from tests.factories import make_detections
from vision.detections import Detections
from vision.detector import Detector, DetectorBase


class _Fixed(DetectorBase):
    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Detections]:
        return [make_detections([(0, 0, 1, 1, 0.5, len(self.class_names) - 1)]) for _ in images]


@pytest.mark.parametrize(
    ("names", "size", "expected_names", "expected_size"),
    [
        ({1: "b", 0: "a"}, 640, ("a", "b"), (640, 640)),
        (["a", "b"], (384, 640), ("a", "b"), (384, 640)),
        (("x",), [320, 320], ("x",), (320, 320)),
    ],
)
def test_names_and_sizes_are_normalized(names, size, expected_names, expected_size) -> None:  # type: ignore[no-untyped-def]
    detector = _Fixed(names, size)
    assert isinstance(detector, Detector)
    assert detector.class_names == expected_names and detector.input_size == expected_size
    assert detector.detect(np.zeros((4, 4, 3), np.uint8)).class_id.tolist() == [len(expected_names) - 1]


def test_bad_input_size_is_explained() -> None:
    with pytest.raises(ValueError, match=r"input size must be an int or \(height, width\), got \[1, 2, 3\]"):
        _Fixed(["a"], [1, 2, 3])
