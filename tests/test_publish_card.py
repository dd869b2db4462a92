"""The card's wide-frame parts (models/publish.py): which sources are wide, the table, the data statement."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from datasets.manifest import Manifest, ManifestEntry
from models.publish import _tiled_rows, data_statement, wide_sources
from vision.tiling import TilingConfig

CLASSES = ["illegal_ad", "exposed_garbage"]


def _entry(name: str, source: str, split: str = "val") -> ManifestEntry:
    return ManifestEntry(
        image=f"images/{split}/{name}.jpg", image_sha256="0" * 64, label=f"labels/{split}/{name}.txt",
        label_sha256="0" * 64, split=split, source=source, source_image=f"{source}/{name}.jpg", license="x", boxes={},
    )  # fmt: skip


def _manifest(entries: list[ManifestEntry], sources: dict[str, dict[str, str]] | None = None) -> Manifest:
    return Manifest(
        name="v", parent=None, seed=0, config_sha256="0" * 64, classes=tuple(CLASSES), sources=sources or {},
        entries=tuple(entries), import_issues=0, duplicates_dropped=0,
    )  # fmt: skip


def test_wide_sources_are_those_tiled_in_use_and_camera_frames_those_16_by_9(tmp_path: Path) -> None:
    sizes = {"photo": (480, 480), "facade": (768, 1024), "frame": (576, 1024), "train-only": (1080, 1920)}
    entries = []
    for source, (height, width) in sizes.items():
        split = "train" if source == "train-only" else "val"
        (tmp_path / "images" / split).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp_path / "images" / split / f"{source}.jpg"), np.zeros((height, width, 3), np.uint8))
        entries.append(_entry(source, source, split))
    wide, frames = wide_sources(tmp_path, _manifest(entries), 640, TilingConfig())
    assert wide == ["facade", "frame"] and frames == ["frame"]


def _evaluation(rows: dict[str, list[tuple[int, float | None, float | None]]]) -> dict[str, Any]:
    def classes(values: list[tuple[int, float | None, float | None]]) -> list[dict[str, Any]]:
        return [
            {"name": name, "instances": n, "ap50": ap, "false_positive_image_rate": fp}
            for name, (n, ap, fp) in zip(CLASSES, values, strict=True)
        ]

    by_source = {source: classes(values) for source, values in rows.items()}
    return {"classes": next(iter(by_source.values())), "by_source": by_source if len(rows) > 1 else {}}


def test_the_wide_frame_table_covers_each_source_only_where_it_was_measured() -> None:
    patrol = [(3, 0.1, 0.04), (122, 0.2, 0.0)]
    facade = [(0, None, 0.02), (0, None, None)]
    evaluation = {
        "onnx_fp32": _evaluation({"facades": facade, "patrol": patrol, "cn": [(0, None, None), (5, 0.9, None)]}),
        "tiled": {
            "sources": ["facades", "patrol"],
            "camera_sources": ["patrol"],
            "camera_size": [1920, 1080],
            "onnx_fp32": _evaluation(
                {"facades": [(0, None, 0.05), (0, None, None)], "patrol": [(3, 0.3, 0.1), (122, 0.4, 0.0)]}
            ),
            "onnx_int8": _evaluation({"facades": facade, "patrol": [(3, 0.25, 0.1), (122, 0.38, 0.0)]}),
            "onnx_fp32_camera_size": _evaluation({"patrol": [(3, 0.5, 0.1), (122, 0.6, 0.0)]}),
            "onnx_int8_camera_size": _evaluation({"patrol": [(3, 0.45, 0.1), (122, 0.58, 0.0)]}),
            "onnx_fp32_camera_size_whole": _evaluation({"patrol": [(3, 0.0, 0.0), (122, 0.1, 0.0)]}),
        },
    }
    lines = _tiled_rows({"classes": CLASSES, "evaluation": evaluation})
    table = [line for line in lines if line.startswith("| facades") or line.startswith("| patrol")]
    assert table == [
        "| facades | illegal_ad | 0 | - | - | - | - | - | - | 0.020 / 0.050 |",
        "| patrol | illegal_ad | 3 | 0.100 | 0.300 | 0.250 | 0.000 | 0.500 | 0.450 | 0.040 / 0.100 |",
        "| patrol | exposed_garbage | 122 | 0.200 | 0.400 | 0.380 | 0.100 | 0.600 | 0.580 | 0.000 / 0.000 |",
    ]
    assert _tiled_rows({"classes": CLASSES, "evaluation": {"onnx_fp32": evaluation["onnx_fp32"]}}) == []


def test_a_source_without_a_stated_licence_is_named_in_the_data_statement() -> None:
    sources = {"cn": {"license": "CC BY 4.0"}, "patrol": {"license": "not stated"}}
    statement = data_statement(_manifest([], sources))
    assert statement["licence_not_stated"] == ["patrol"]
    assert statement["statement"].startswith("Trained partly on frames whose licence is not stated (patrol)")
    assert data_statement(_manifest([], {"cn": {"license": "CC0"}}))["licence_not_stated"] == []
