"""Training tiles cut from wide frames (datasets/tiles.py): sizes as at inference, boxes kept by what a tile shows."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from datasets.importers import Example, SourceConfig, load_source_config
from datasets.tiles import TileSpec, cut_tiles
from datasets.yolo import Labels
from tests.factories import source_config_yaml

CLASSES = ["litter", "sign"]


def _source(tmp_path: Path) -> SourceConfig:
    path = tmp_path / "wide.yaml"
    path.write_text(source_config_yaml("wide", CLASSES, {"litter": "exposed_garbage", "sign": None}))
    return load_source_config(path)


def _frame(tmp_path: Path, boxes: list[tuple[int, float, float, float, float]], name: str = "f") -> Example:
    """A 1024 x 576 frame with the given source boxes (class, x1, y1, x2, y2 in pixels); litter maps to id 2."""
    image = np.random.default_rng(0).integers(0, 255, (576, 1024, 3), dtype=np.uint8)
    path = tmp_path / f"{name}.jpg"
    cv2.imwrite(str(path), image)
    source = Labels.from_xyxy([b[1:] for b in boxes], [b[0] for b in boxes], 1024, 576)
    label = tmp_path / f"{name}.txt"
    label.write_text(
        "".join(
            f"{c} {x:.6f} {y:.6f} {w:.6f} {h:.6f}\n"
            for c, (x, y, w, h) in zip(source.class_ids, source.boxes, strict=True)
        )
    )
    ours = [b for b in boxes if b[0] == 0]
    mapped = Labels.from_xyxy([b[1:] for b in ours], [2] * len(ours), 1024, 576) if ours else Labels.empty()
    return Example("wide", "train", path, mapped, "0" * 64, 0, "CC0 1.0", label, f"wide/{path.name}")


def test_native_tiles_keep_the_boxes_they_show_and_drop_slivers(tmp_path: Path) -> None:
    # 1024 x 576 in 640 tiles: two windows, x 0-640 and 384-1024
    frame = _frame(tmp_path, [(0, 100, 100, 160, 150), (0, 600, 300, 700, 340), (0, 620, 400, 660, 440)])
    spec = TileSpec(source="wide", min_visible=0.3, empty_share=0.0)
    tiles = list(cut_tiles(spec, [frame], _source(tmp_path), seed=0))

    assert [t.record["window"] for t in tiles] == [[0, 0, 640, 576], [384, 0, 1024, 576]]
    left, right = (t.labels.xyxy(640, 576).round(1).tolist() for t in tiles)
    # the box at x 600-700 shows 40 % in the left tile (kept, clipped) and 100 % in the right one
    assert left == [[100.0, 100.0, 160.0, 150.0], [600.0, 300.0, 640.0, 340.0], [620.0, 400.0, 640.0, 440.0]]
    assert right == [[216.0, 300.0, 316.0, 340.0], [236.0, 400.0, 276.0, 440.0]]
    assert all(set(t.labels.class_ids.tolist()) == {2} for t in tiles)
    decoded = cv2.imdecode(np.frombuffer(tiles[1].jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (576, 640, 3)

    strict = list(cut_tiles(spec.model_copy(update={"min_visible": 0.6}), [frame], _source(tmp_path), seed=0))
    assert len(strict[0].labels.class_ids) == 1  # 40 % and 50 % of a box are no longer an object there


def test_tiles_at_the_cameras_size_show_objects_at_the_size_inference_sees(tmp_path: Path) -> None:
    frame = _frame(tmp_path, [(0, 500, 300, 555, 336)])  # 55 x 36 px in 1024 x 576: a median patrol-view pile
    spec = TileSpec(source="wide", frame_size=(1080, 1920), empty_share=0.0)
    tiles = list(cut_tiles(spec, [frame], _source(tmp_path), seed=0))

    assert tiles and all(t.record["frame_size"] == [1080, 1920] for t in tiles)
    widths = {round(float(b[2] - b[0])) for t in tiles for b in t.labels.xyxy(640, 640)}
    assert widths == {103}  # 55 px x 1920 / 1024: what a 640 tile of a 1920 x 1080 frame shows
    assert all(len(t.labels.class_ids) == 1 for t in tiles)  # only tiles with the object: no empty ones asked for


def test_hard_negative_tiles_are_kept_and_empty_ones_by_share(tmp_path: Path) -> None:
    frame = _frame(tmp_path, [(1, 50, 50, 200, 120)])  # a shop sign (mapped to nothing) in the left tile only
    source = _source(tmp_path)
    plain = TileSpec(source="wide", empty_share=0.0)
    assert list(cut_tiles(plain, [frame], source, seed=0)) == []
    negatives = list(cut_tiles(plain.model_copy(update={"hard_negatives": ("sign",)}), [frame], source, seed=0))
    assert [(t.record["window"], t.record["hard_negative"], len(t.labels.class_ids)) for t in negatives] == [
        ([0, 0, 640, 576], True, 0)
    ]
    everything = list(cut_tiles(plain.model_copy(update={"empty_share": 1.0}), [frame], source, seed=0))
    assert len(everything) == 2
    frames = [_frame(tmp_path, [], name=f"e{i}") for i in range(20)]
    half = TileSpec(source="wide", empty_share=0.5)
    kept = [t.name for t in cut_tiles(half, frames, source, seed=3)]
    assert 8 <= len(kept) <= 32 and kept == [t.name for t in cut_tiles(half, frames, source, seed=3)]


def test_tiles_only_for_the_splits_asked(tmp_path: Path) -> None:
    frame = _frame(tmp_path, [(0, 100, 100, 160, 150)])
    val_frame = Example(**{**frame.__dict__, "split": "val"})
    tiles = list(cut_tiles(TileSpec(source="wide"), [frame, val_frame], _source(tmp_path), seed=0))
    assert {t.frame.split for t in tiles} == {"train"}


def test_tile_specs_are_checked(tmp_path: Path) -> None:
    frame = _frame(tmp_path, [])
    with pytest.raises(ValueError, match=r"hard negatives \['door'\] are not classes of wide"):
        list(cut_tiles(TileSpec(source="wide", hard_negatives=("door",)), [frame], _source(tmp_path), seed=0))
    with pytest.raises(ValueError, match="tile spec is for 'other'"):
        list(cut_tiles(TileSpec(source="other"), [frame], _source(tmp_path), seed=0))
    with pytest.raises(ValidationError):
        TileSpec(source="wide", min_visible=0.0)
    with pytest.raises(ValidationError):
        TileSpec(source="wide", tile_size=640, overlap=1.0)
