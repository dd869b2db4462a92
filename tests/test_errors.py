"""models.errors: every false alarm and miss at the review threshold, its cause, the CSV and the contact sheets."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np

from models.errors import TILE, find_errors, summary_table, write_errors
from models.evaluate import ImageResult
from tests.conftest import SAMPLES
from vision.nms import box_overlap_of_smaller


def _image(
    name: str, gt: list[tuple[float, ...]], pred: list[tuple[float, ...]], path: Path | None = None
) -> ImageResult:
    """gt rows (x0, y0, x1, y1, class); pred rows (x0, y0, x1, y1, score, class)."""
    g = np.array(gt, float).reshape(-1, 5)
    p = np.array(pred, float).reshape(-1, 6)
    return ImageResult(name, "s", g[:, :4], g[:, 4].astype(np.int64), p[:, :4], p[:, 4], p[:, 5].astype(np.int64), path)


def test_each_error_gets_its_cause() -> None:
    a = _image(
        "a",
        [(0, 0, 10, 10, 0), (20, 20, 30, 30, 0), (40, 40, 60, 60, 1)],
        [
            (0, 0, 10, 10, 0.9, 0),  # finds the first cat
            (0, 0, 10, 11, 0.8, 0),  # a second box on it
            (40, 40, 60, 60, 0.7, 0),  # the bin, called a cat
            (20, 20, 25, 25, 0.6, 0),  # a quarter of the second cat (IoU 0.25)
            (100, 100, 110, 110, 0.5, 0),  # nothing there
            (40, 40, 60, 60, 0.1, 1),  # the bin, under half the threshold
        ],
    )
    b = _image(
        "b",
        [(0, 0, 100, 100, 0), (200, 200, 210, 210, 0), (300, 300, 310, 310, 0)],
        [(10, 10, 40, 40, 0.9, 0), (200, 200, 210, 210, 0.2, 0)],
    )
    errors = find_errors([a, b], ["cat", "bin"], review_threshold=0.25)
    got = [(e.image, e.class_name, e.kind, e.cause, e.score) for e in errors]
    assert got == [
        ("a", "cat", "false_alarm", "duplicate", 0.8),
        ("a", "cat", "false_alarm", "other_class", 0.7),
        ("a", "cat", "false_alarm", "overlaps_label", 0.6),
        ("a", "cat", "false_alarm", "no_label", 0.5),
        ("a", "cat", "missed", "overlaps_detection", None),  # the second cat: the quarter box lies inside it
        ("a", "bin", "missed", "other_class", 0.1),
        ("b", "cat", "false_alarm", "overlaps_label", 0.9),  # a part of a large cat
        ("b", "cat", "missed", "overlaps_detection", None),
        ("b", "cat", "missed", "near_threshold", 0.2),
        ("b", "cat", "missed", "not_found", None),
    ]
    assert errors[2].iou == 0.25 and errors[2].long_side == 5
    table = summary_table(errors)
    assert "| s | cat | false_alarm | 5 | overlaps_label 2, other_class 1, no_label 1, duplicate 1 |" in table
    assert "| s | cat | missed | 4 | overlaps_detection 2, not_found 1, near_threshold 1 |" in table
    assert "| s | bin | missed | 1 | other_class 1 |" in table


def test_overlap_of_smaller_is_one_for_a_box_inside_another() -> None:
    big = np.array([[0, 0, 100, 100]], float)
    inner = np.array([[10, 10, 40, 40], [90, 90, 110, 110], [200, 200, 210, 210]], float)
    np.testing.assert_allclose(box_overlap_of_smaller(inner, big), [[1.0], [0.25], [0.0]])
    assert box_overlap_of_smaller(inner, np.zeros((0, 4))).shape == (3, 0)


def test_csv_and_contact_sheets_from_a_real_photo(tmp_path: Path) -> None:
    photo = SAMPLES[0]
    height, width = cv2.imread(str(photo)).shape[:2]
    result = _image(
        photo.name,
        [(10, 10, 60, 60, 0), (width - 40, height - 40, width - 2, height - 2, 0)],
        [(100, 100, 180, 150, 0.7, 0), (12, 12, 60, 60, 0.9, 0)],
        path=photo,
    )
    errors = find_errors([result], ["cat"], 0.25)
    sheets = write_errors(errors, [result], ["cat"], 0.25, tmp_path)
    rows = list(csv.DictReader((tmp_path / "errors.csv").open(encoding="utf-8")))
    assert [(r["kind"], r["cause"]) for r in rows] == [("false_alarm", "no_label"), ("missed", "not_found")]
    assert rows[0]["score"] == "0.700" and rows[1]["score"] == "" and rows[1]["long_side"] == "38.0"
    assert sorted(p.name for p in sheets) == ["s.cat.false_alarm.jpg", "s.cat.missed.jpg"]
    for sheet in sheets:
        image = cv2.imread(str(sheet))
        assert image.shape == (TILE, TILE, 3)
        assert image.std() > 10  # a crop of the photo, not an empty tile
