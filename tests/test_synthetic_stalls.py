"""Street stalls: the Blender renderer (in its own venv) and the compositor that stands renders on real ground."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from datasets.build import build_dataset
from datasets.synthetic.stalls import (
    GroundReference,
    LibrarySpec,
    RenderUnavailable,
    Sprite,
    compose_stalls,
    load_library,
    render_library,
    render_python,
)
from tests.conftest import REPO_ROOT
from tests.factories import make_source_tree, source_config_yaml

needs_blender = pytest.mark.skipif(
    not render_python().exists(), reason="needs the Blender venv: bash scripts/setup.sh render"
)
TINY = LibrarySpec(count=2, seed=5, size=96, samples=4)


@needs_blender
def test_renderer_writes_rgba_stalls_with_their_geometry_and_repeats_itself(tmp_path: Path) -> None:
    folder = render_library(TINY, tmp_path / "a")
    sprites = load_library(folder)
    assert len(sprites) == 2
    for sprite in sprites:
        h, w = sprite.bgra.shape[:2]
        x0, y0, x1, y1 = sprite.box
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
        assert sprite.bgra[int(y0) : int(y1), int(x0) : int(x1), 3].max() == 255  # the stall is opaque
        assert x0 <= sprite.foot[0] <= x1 and y0 < sprite.foot[1] <= y1 + 1  # it stands on its foot
        assert sprite.px_per_m > 0 and 0 < sprite.elevation < 45
        assert sprite.record["kind"] in {"parasol_table", "tricycle", "canopy", "food_cart"}
        assert 0.5 < sprite.record["height_m"] < 3.5
    stamp = (folder / "complete.json").stat().st_mtime_ns
    assert render_library(TINY, tmp_path / "a") == folder and (folder / "complete.json").stat().st_mtime_ns == stamp
    again = render_library(TINY, tmp_path / "b")
    for first in sorted(folder.glob("*.json")):
        assert json.loads(first.read_text()) == json.loads((again / first.name).read_text())


def test_without_blender_the_render_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RenderUnavailable, match=r"scripts/setup\.sh render"):
        render_library(TINY, tmp_path, python=tmp_path / "no-python")
    assert not (tmp_path / "stalls").exists()  # nothing half-rendered is left behind


def _sprite(height_px: int = 100, width_px: int = 50, px_per_m: float = 50.0) -> Sprite:
    """A plain opaque block 2 m tall standing on its bottom-centre, with a half-transparent shadow to its right."""
    bgra = np.zeros((height_px, width_px + 30, 4), np.uint8)
    bgra[:, :width_px] = (40, 120, 200, 255)
    bgra[-10:, width_px:, 3] = 100
    box = (0.0, 0.0, float(width_px), float(height_px))
    record = {"index": 0, "kind": "canopy", "parts": ["canopy"]}
    return Sprite(bgra, box, (width_px / 2, float(height_px)), px_per_m, 12.0, record)


def test_a_stall_stands_on_the_ground_at_the_scale_of_the_reference() -> None:
    image = np.full((480, 640, 3), 128, np.uint8)
    bin_box = (300.0, 300.0, 340.0, 344.0)  # a 1.1 m bin, 44 px tall: 40 px per metre at row 344
    person = np.array([[0.0, 200.0, 60.0, 470.0]])
    placed_any = False
    for seed in range(20):
        out, placed = compose_stalls(
            np.random.default_rng(seed), image, [GroundReference(bin_box, 1.1)], person, [_sprite()]
        )
        for stall in placed:
            placed_any = True
            x0, y0, x1, y1 = stall.xyxy
            foot_x, foot_y = stall.foot
            # the horizon follows from the bin and the camera height; the scale grows linearly below it
            assert stall.horizon_y == pytest.approx(344 - stall.camera_height_m * 40, abs=0.5)  # both rounded
            expected_ppm = 40 * (foot_y - stall.horizon_y) / (344 - stall.horizon_y)
            assert stall.px_per_m == pytest.approx(expected_ppm, rel=0.02)
            if y0 > 0 and y1 < 480:
                assert y1 - y0 == pytest.approx(2 * expected_ppm, abs=3)  # 2 m tall (box and foot in whole pixels)
            assert abs(y1 - foot_y) <= 2 and x0 <= foot_x <= x1
            assert foot_y > 344  # level with the bin or in front of it, never behind (on a wall)
            hidden_person = max(0, min(x1, 60) - max(x0, 0)) * max(0, min(y1, 470) - max(y0, 200))
            hidden_bin = max(0, min(x1, 340) - max(x0, 300)) * max(0, min(y1, 344) - max(y0, 300))
            assert hidden_person <= 0.05 * 60 * 270 and hidden_bin <= 0.05 * 40 * 44  # both stay visible
            assert (out[y0:y1, x0:x1] != 128).any()
    assert placed_any


def test_no_stall_without_street_scale() -> None:
    image = np.full((480, 640, 3), 128, np.uint8)
    close_up = GroundReference((100.0, 50.0, 400.0, 460.0), 1.1)  # a bin filling the photo: shot from above
    out, placed = compose_stalls(np.random.default_rng(0), image, [close_up], np.zeros((0, 4)), [_sprite()])
    assert placed == [] and (out == image).all()
    out, placed = compose_stalls(np.random.default_rng(0), image, [], np.zeros((0, 4)), [_sprite()])
    assert placed == []


@needs_blender
def test_a_build_with_street_stalls_labels_and_records_them(tmp_path: Path) -> None:
    root = tmp_path / "data"
    make_source_tree(root, REPO_ROOT / "samples", "garbage-cn", "cn")
    configs = tmp_path / "configs"
    configs.mkdir()
    cn_map = {"garbage": "exposed_garbage", "garbage_bin": None, "overflow": "overflowing_bin"}
    classes = ["garbage", "garbage_bin", "overflow"]
    text = source_config_yaml("cn", classes, cn_map, ground_heights_m={"garbage_bin": 1.1, "overflow": 1.3})
    (configs / "cn.yaml").write_text(text)
    build = tmp_path / "build.yaml"
    stalls = {"generator": "street_stall", "backgrounds": "cn", "per_background": 3, "renders": 2}
    build.write_text(
        yaml.safe_dump({"name": "s-v1", "seed": 1, "sources": [str(configs / "cn.yaml")], "synthetic": [stalls]})
    )
    target, manifest = build_dataset(build, tmp_path / "out", root)
    made = [e for e in manifest.entries if e.source == "synthetic/street_stall"]
    assert made, "the bins of the garbage-cn samples give ground to stand on"
    records = {r["image"]: r for r in map(json.loads, (target / "synthetic.jsonl").read_text().splitlines())}
    for entry in made:
        placed = records[entry.image]["placed"]
        assert entry.boxes == {"street_stall": len(placed)}
        image = cv2.imread(str(target / entry.image))
        h, w = image.shape[:2]
        lines = (target / entry.label).read_text().splitlines()
        for line, stall in zip(lines, placed, strict=True):
            x0, y0, x1, y1 = stall["xyxy"]
            cls, cx, cy, bw, bh = map(float, line.split())
            assert int(cls) == 3 and cx == pytest.approx((x0 + x1) / 2 / w, abs=1e-3)
            assert cy == pytest.approx((y0 + y1) / 2 / h, abs=1e-3) and bw == pytest.approx((x1 - x0) / w, abs=1e-3)
            assert bh == pytest.approx((y1 - y0) / h, abs=1e-3)
