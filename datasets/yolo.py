"""YOLO label files: strict reading with a reason for every line that is dropped, and writing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class LabelIssue:
    """Something wrong with a label file or an image, and what was done about it."""

    file: str
    line: int | None
    reason: str
    action: str  # "line dropped" | "image skipped"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.reason} ({self.action})"


@dataclass(frozen=True)
class Labels:
    """Boxes of one image: (N, 4) normalised cx, cy, w, h and their (N,) class ids."""

    boxes: npt.NDArray[np.float64]
    class_ids: npt.NDArray[np.int64]

    @classmethod
    def empty(cls) -> Labels:
        """An image with no boxes (a negative)."""
        return cls(np.zeros((0, 4)), np.zeros(0, np.int64))

    @classmethod
    def from_xyxy(cls, xyxy: npt.ArrayLike, class_ids: npt.ArrayLike, width: int, height: int) -> Labels:
        """Labels from pixel (x1, y1, x2, y2) boxes of an image of `width` x `height`."""
        b = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
        centre = (b[:, :2] + b[:, 2:]) / 2
        size = b[:, 2:] - b[:, :2]
        normalised = np.concatenate([centre, size], axis=1) / [width, height, width, height]
        return cls(normalised, np.asarray(class_ids, dtype=np.int64).reshape(-1))

    def xyxy(self, width: int, height: int) -> npt.NDArray[np.float64]:
        """The boxes as pixel (x1, y1, x2, y2) in an image of `width` x `height`."""
        pixels = self.boxes * [width, height, width, height]
        corners = np.concatenate([pixels[:, :2] - pixels[:, 2:] / 2, pixels[:, :2] + pixels[:, 2:] / 2], axis=1)
        return corners.reshape(-1, 4)


def read_labels(path: Path, num_classes: int) -> tuple[Labels, list[LabelIssue]]:
    """Read a YOLO label file; invalid lines are dropped and reported, never guessed at."""
    boxes: list[list[float]] = []
    class_ids: list[int] = []
    issues: list[LabelIssue] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        if not raw.strip():
            continue
        reason = _line_problem(raw.split(), num_classes)
        if reason:
            issues.append(LabelIssue(str(path), number, reason, "line dropped"))
            continue
        fields = raw.split()
        class_ids.append(int(float(fields[0])))
        boxes.append([float(v) for v in fields[1:]])
    if not boxes:
        return Labels.empty(), issues
    return Labels(np.array(boxes, dtype=np.float64), np.array(class_ids, dtype=np.int64)), issues


def _line_problem(fields: list[str], num_classes: int) -> str | None:
    if len(fields) != 5:
        return f"expected 5 numbers (class cx cy w h), got {len(fields)}"
    try:
        values = [float(v) for v in fields]
    except ValueError:
        return f"not a number in {' '.join(fields)!r}"
    class_value, cx, cy, w, h = values
    if not class_value.is_integer() or not 0 <= class_value < num_classes:
        return f"class id {fields[0]} out of range 0..{num_classes - 1}"
    if not all(0.0 <= v <= 1.0 for v in (cx, cy, w, h)):
        return f"coordinates outside [0, 1]: {' '.join(fields[1:])}"
    if w <= 0.0 or h <= 0.0:
        return f"box of zero size: w={fields[3]} h={fields[4]}"
    return None


def format_labels(labels: Labels) -> str:
    """YOLO label text, one `class cx cy w h` line per box with 6 decimals (empty string for a negative)."""
    lines = [
        f"{int(c)} {b[0]:.6f} {b[1]:.6f} {b[2]:.6f} {b[3]:.6f}"
        for c, b in zip(labels.class_ids, labels.boxes, strict=True)
    ]
    return "".join(line + "\n" for line in lines)
