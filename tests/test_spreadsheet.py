from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from vision.spreadsheet import safe_cell


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("car-07 dashcam", "car-07 dashcam"),
        ("", ""),
        (-3.5, -3.5),
        (None, None),
    ],
)
def test_text_a_spreadsheet_would_run_is_escaped(value: Any, expected: Any) -> None:
    assert safe_cell(value) == expected


def test_the_detection_report_csv_escapes_a_hostile_file_name(tmp_path: Path) -> None:
    import csv

    import numpy as np

    from tests.factories import make_detections
    from vision.report import DetectionReport

    report = DetectionReport(tmp_path / "out", ("bin",), "test-model")
    report.add(Path("=1+cmd.jpg"), np.zeros((20, 20, 3), np.uint8), make_detections([(1, 2, 8, 9, 0.9, 0)]))
    _, csv_path = report.write()
    with csv_path.open(encoding="utf-8") as handle:
        (row,) = csv.DictReader(handle)
    assert row["image"] == "'=1+cmd.jpg" and row["class_name"] == "bin" and float(row["x2"]) == 8.0
