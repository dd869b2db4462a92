"""`Detections`: the one type that flows from detector to tracker to sink."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


def _check_shape(name: str, array: npt.NDArray[Any], expected: tuple[int | None, ...]) -> None:
    ok = array.ndim == len(expected) and all(e is None or a == e for a, e in zip(array.shape, expected, strict=True))
    if not ok:
        shown = tuple("N" if e is None else e for e in expected)
        raise ValueError(f"Detections.{name}: expected shape {shown}, got {array.shape}")


@dataclass(frozen=True)
class Detections:
    """Boxes found in one image, as parallel numpy arrays.

    `xyxy` is (N, 4) float32 in pixels of the original image; `confidence` (N,) float32; `class_id` (N,) int64;
    `tracker_id` (N,) int64 or None before tracking. Inputs are converted to those dtypes; shapes are validated.
    """

    xyxy: FloatArray
    confidence: FloatArray
    class_id: IntArray
    tracker_id: IntArray | None = None

    def __post_init__(self) -> None:
        xyxy = np.asarray(self.xyxy, dtype=np.float32)
        if xyxy.size == 0:
            xyxy = xyxy.reshape(0, 4)
        _check_shape("xyxy", xyxy, (None, 4))
        n = xyxy.shape[0]
        confidence = np.asarray(self.confidence, dtype=np.float32)
        class_id = np.asarray(self.class_id, dtype=np.int64)
        _check_shape("confidence", confidence, (n,))
        _check_shape("class_id", class_id, (n,))
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "confidence", confidence)
        object.__setattr__(self, "class_id", class_id)
        if self.tracker_id is not None:
            tracker_id = np.asarray(self.tracker_id, dtype=np.int64)
            _check_shape("tracker_id", tracker_id, (n,))
            object.__setattr__(self, "tracker_id", tracker_id)

    @classmethod
    def empty(cls) -> Detections:
        """No detections."""
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    def __getitem__(self, index: npt.NDArray[np.bool_] | npt.NDArray[np.int64] | slice) -> Detections:
        """Select rows with a boolean mask, an index array or a slice."""
        return Detections(
            self.xyxy[index],
            self.confidence[index],
            self.class_id[index],
            None if self.tracker_id is None else self.tracker_id[index],
        )

    @property
    def area(self) -> FloatArray:
        """Box areas in square pixels."""
        wh = np.clip(self.xyxy[:, 2:] - self.xyxy[:, :2], 0, None)
        area: FloatArray = (wh[:, 0] * wh[:, 1]).astype(np.float32)
        return area

    def to_records(self, class_names: tuple[str, ...] | list[str]) -> list[dict[str, Any]]:
        """One JSON-ready dict per box, with the class name looked up in `class_names`."""
        records = []
        for i in range(len(self)):
            cid = int(self.class_id[i])
            record: dict[str, Any] = {
                "class_id": cid,
                "class_name": class_names[cid] if 0 <= cid < len(class_names) else str(cid),
                "confidence": round(float(self.confidence[i]), 4),
                "xyxy": [round(float(v), 1) for v in self.xyxy[i]],
            }
            if self.tracker_id is not None:
                record["tracker_id"] = int(self.tracker_id[i])
            records.append(record)
        return records
