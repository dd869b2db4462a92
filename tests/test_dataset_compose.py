"""Patrol-view composition (datasets/compose): perspective, placement, blending, labels, seeds, the build."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from pydantic import ValidationError

from datasets.build import build_dataset
from datasets.compose.cutouts import Donor
from datasets.compose.frames import ComposeInputs, compose_tiles
from datasets.compose.geometry import GroundCamera, overlap_share
from datasets.compose.placing import (
    MAX_COVER,
    Canvas,
    ground_spot,
    place_ad,
    place_cutout,
    place_grime,
    place_stall,
)
from datasets.compose.spec import ComposeSpec
from datasets.importers import Example, SourceConfig, import_source, load_source_config
from datasets.synthetic.ads import AdTexts, cjk_font
from datasets.synthetic.stalls import Sprite
from datasets.yolo import Labels, format_labels
from tests.conftest import REPO_ROOT
from tests.factories import make_source_tree, make_wide_frame, source_config_yaml
from vision.taxonomy import load_taxonomy

SAMPLES = REPO_ROOT / "samples"
PATROL_CLASSES = ["litter", "sign", "graffiti"]
PATROL_MAP = {"litter": "exposed_garbage", "sign": None, "graffiti": "dirty_facade"}
# (class, x0, y0, x1, y1) in a 1024 x 576 frame: graffiti on a wall, a shop sign above it, litter on the kerb
PATROL_BOXES = [(2, 120, 160, 200, 210), (1, 300, 110, 440, 160), (0, 700, 330, 740, 360)]
CN_MAP = {"garbage": "exposed_garbage", "garbage_bin": None, "overflow": "overflowing_bin"}


# -- the perspective model ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("foot_y", "height_m", "expected_px"),
    [(300.0, 1.0, 0.0), (200.0, 1.0, 0.0), (400.0, 1.0, 50.0), (500.0, 1.0, 100.0), (500.0, 0.5, 50.0)],
)
def test_an_object_is_as_tall_as_its_foot_is_below_the_horizon(
    foot_y: float, height_m: float, expected_px: float
) -> None:
    camera = GroundCamera(height=576, width=1024, horizon_y=300.0, camera_height_m=2.0)
    box = camera.standing_box(512.0, foot_y, height_m, aspect=2.0)
    assert box[3] == foot_y  # it stands on its foot
    assert box[3] - box[1] == pytest.approx(expected_px)  # nothing at or above the horizon, linear below it
    assert box[2] - box[0] == pytest.approx(2 * expected_px)


def test_farther_is_smaller_and_to_the_side_is_off_the_centre() -> None:
    camera = GroundCamera(height=576, width=1024, horizon_y=200.0, camera_height_m=1.6)
    heights = [camera.standing_box(0, y, 0.8, 1.0)[3] - camera.standing_box(0, y, 0.8, 1.0)[1] for y in (250, 350, 550)]
    assert heights == sorted(heights) and heights[0] < heights[-1] / 5
    assert camera.column(400, 0.0) == 512 and camera.column(400, 3.2) == pytest.approx(512 + 400)
    assert camera.column(300, -3.2) == pytest.approx(512 - 200)  # farther rows: the same metres, fewer pixels
    assert camera.nearest_row(0.5, 10.0) == pytest.approx(200 + 10 * 1.6 / 0.5)
    with pytest.raises(ValueError, match="horizon inside the frame"):
        GroundCamera(height=576, width=1024, horizon_y=600.0, camera_height_m=1.6)


def _canvas(blockers: list[tuple[float, float, float, float]] | None = None, horizon: float = 200.0) -> Canvas:
    image = np.random.default_rng(0).normal(120, 5, (576, 1024, 3)).astype(np.float32)
    return Canvas(
        image=image,
        camera=GroundCamera(576, 1024, horizon, 1.8),
        blockers=list(blockers or []),
        walls=[],
        sharpness=60.0,
        min_height_px=8.0,
        sides_m=((2.5, 10.0), (8.0, 20.0)),
    )


def test_ground_spots_lie_below_the_horizon_and_beside_the_cars_lane() -> None:
    canvas = _canvas()
    rng = np.random.default_rng(1)
    for _ in range(300):
        spot = ground_spot(rng, canvas, 0.6)
        assert spot is not None
        x, y = spot
        ppm = canvas.camera.px_per_m(y)
        assert y >= canvas.camera.nearest_row(0.6, 8.0) > canvas.camera.horizon_y
        offset = (x - 512) / ppm
        assert 2.5 <= offset <= 10.0 or -20.0 <= offset <= -8.0


# -- pasting real cut-outs ------------------------------------------------------------------------------------


def _red_donor(tmp_path: Path) -> Donor:
    """A donor photo: a grey street with a solid red 'object' at x 60-140, y 80-140 (its label)."""
    photo = np.full((240, 240, 3), 90, np.uint8)
    photo[80:140, 60:140] = (30, 30, 230)
    path = tmp_path / "donor.png"
    cv2.imwrite(str(path), photo)
    labels = Labels.from_xyxy([[60, 80, 140, 140]], [2], 240, 240)
    example = Example("cn", "train", path, labels, "0" * 64, 0, "CC0 1.0", path, "cn/donor.png")
    return Donor(example, (60.0, 80.0, 140.0, 140.0), 2)


def test_a_pasted_object_is_labelled_where_its_pixels_are_and_stands_on_its_foot(tmp_path: Path) -> None:
    donor = _red_donor(tmp_path)
    for seed in range(5):
        canvas = _canvas()
        placed = place_cutout(np.random.default_rng(seed), canvas, [donor], (0.8, 1.2))
        assert placed is not None and placed.kind == "cutout" and placed.class_id == 2
        image = canvas.image
        red = (image[..., 2] - image[..., 1] > 60) & (image[..., 2] - image[..., 0] > 60)
        ys, xs = np.nonzero(red)
        x0, y0, x1, y1 = placed.xyxy
        # the label is the extent of what shows of the object (its mask at least half opaque), to a pixel or two
        assert abs(xs.min() - x0) <= 2 and abs(xs.max() + 1 - x1) <= 2, (placed.xyxy, xs.min(), xs.max())
        assert abs(ys.min() - y0) <= 2 and abs(ys.max() + 1 - y1) <= 2, (placed.xyxy, ys.min(), ys.max())
        foot = placed.foot_y
        assert y1 <= foot + 1 and y1 >= foot - 0.05 * (y1 - y0) - 1  # it stands on the ground row it was given
        assert foot > canvas.camera.horizon_y
        expected = placed.detail["height_m"] * canvas.camera.px_per_m(foot)  # the perspective rule
        assert (y1 - y0) == pytest.approx(expected, rel=0.1, abs=2)


def test_nothing_is_pasted_over_a_labelled_box(tmp_path: Path) -> None:
    donor = _red_donor(tmp_path)
    # labelled things all over the near ground on the right, and a row of them on the left
    blockers = [(512.0 + 60 * i, 250.0, 512.0 + 60 * i + 50, 576.0) for i in range(9)] + [(0.0, 380.0, 512.0, 420.0)]
    placed_any = 0
    for seed in range(16):
        canvas = _canvas(blockers)
        placed = place_cutout(np.random.default_rng(seed), canvas, [donor], (0.5, 1.0))
        if placed is None:
            continue
        placed_any += 1
        assert overlap_share(placed.xyxy, blockers) <= MAX_COVER
        untouched = np.random.default_rng(0).normal(120, 5, (576, 1024, 3)).astype(np.float32)
        for x0, y0, x1, y1 in blockers:  # the labelled pixels themselves are as they were
            inner = (slice(int(y0) + 2, int(y1) - 2), slice(int(x0) + 2, int(x1) - 2))
            assert np.abs(canvas.image[inner] - untouched[inner]).max() < 1e-3
    assert placed_any >= 4


def test_a_rendered_stall_stands_on_the_ground_at_its_rows_scale() -> None:
    # a plain block 2 m tall (100 px at 50 px per metre) standing on its bottom centre: the shape of a render
    bgra = np.zeros((100, 50, 4), np.uint8)
    bgra[:] = (40, 120, 200, 255)
    sprite = Sprite(bgra, (0.0, 0.0, 50.0, 100.0), (25.0, 100.0), 50.0, 12.0, {"index": 0, "kind": "canopy"})
    placed_any = 0
    for seed in range(8):
        canvas = _canvas()
        placed = place_stall(np.random.default_rng(seed), canvas, [sprite], 3)
        if placed is None:
            continue
        placed_any += 1
        x0, y0, x1, y1 = placed.xyxy
        foot = placed.foot_y
        assert y1 == pytest.approx(foot, abs=0.1) and foot > canvas.camera.horizon_y
        assert y1 - y0 == pytest.approx(2.0 * canvas.camera.px_per_m(foot), rel=0.01)
        assert x1 - x0 == pytest.approx((y1 - y0) / 2, rel=0.01)
    assert placed_any >= 4


def test_ads_and_stains_go_beside_a_box_on_a_wall_at_its_scale() -> None:
    anchor = (400.0, 150.0, 480.0, 200.0)  # graffiti 1 m tall: 50 px per metre on this wall
    texts, font = AdTexts.load(), cjk_font()
    ads, stains = 0, 0
    for seed in range(6):
        canvas = _canvas([anchor])
        canvas.walls = [(anchor, 1.0)]
        rng = np.random.default_rng(seed)
        ad = place_ad(rng, canvas, texts, font, 0)
        grime = place_grime(rng, canvas, 4)
        for placed in ([ad] if ad else []) + grime:
            assert overlap_share(placed.xyxy, [anchor]) <= MAX_COVER
            y0, y1 = placed.xyxy[1], placed.xyxy[3]
            assert y1 > anchor[1] - 150 and y0 < anchor[3] + 150  # level with it, on its wall
        if ad is not None:
            ads += 1
            assert ad.class_id == 0 and 0.3 * 50 * 0.8 <= ad.xyxy[3] - ad.xyxy[1] <= 0.8 * 50 * 1.5
        stains += len(grime)
        assert all(p.class_id == 4 and p.kind == "dirty_facade" for p in grime)
    assert ads >= 3 and stains >= 3
    without_walls = _canvas()
    assert place_ad(np.random.default_rng(0), without_walls, texts, font, 0) is None
    assert place_grime(np.random.default_rng(0), without_walls, 4) == []


# -- whole frames -------------------------------------------------------------------------------------------


def _patrol_world(tmp_path: Path, frames: int = 3) -> tuple[Path, Path, Path]:
    """A datasets folder with a fake patrol source (wide frames made of committed samples) and garbage-cn samples;
    returns it and the two source configs."""
    root = tmp_path / "data"
    photos = sorted((SAMPLES / "images").glob("facades-spb__*.jpg"))
    for kind in ("images", "labels"):
        (root / "patrol" / kind / "train").mkdir(parents=True)
    for i in range(frames):
        photo = cv2.imread(str(photos[i]))
        scale = min(300 / photo.shape[0], 440 / photo.shape[1])
        frame = make_wide_frame(photo, scale, (560, 40), (1024, 576))
        cv2.imwrite(str(root / "patrol" / "images" / "train" / f"f{i}.jpg"), frame)
        labels = Labels.from_xyxy([b[1:] for b in PATROL_BOXES], [b[0] for b in PATROL_BOXES], 1024, 576)
        (root / "patrol" / "labels" / "train" / f"f{i}.txt").write_text(format_labels(labels))
    make_source_tree(root, SAMPLES, "garbage-cn", "cn")
    configs = tmp_path / "configs"
    configs.mkdir()
    patrol = configs / "patrol.yaml"
    patrol.write_text(source_config_yaml("patrol", PATROL_CLASSES, PATROL_MAP))
    cn = configs / "cn.yaml"
    cn.write_text(source_config_yaml("cn", ["garbage", "garbage_bin", "overflow"], CN_MAP))
    return root, patrol, cn


SPEC = {
    "backgrounds": "patrol",
    "frame_size": [1080, 1920],
    "horizon": [0.3, 0.36],
    "ground_classes": ["litter"],
    "walls_m": {"graffiti": 1.0, "sign": 1.0},
    "cutouts": [
        {"label": "exposed_garbage", "sources": ["cn"], "height_m": [0.4, 1.0], "max_image_share": 0.6},
        {"label": "overflowing_bin", "sources": ["cn"], "height_m": [1.1, 1.4], "max_image_share": 0.6},
    ],
    "synthetic": ["illegal_ad", "dirty_facade"],
    "max_objects": 4,
}


def _inputs(root: Path, *configs: Path) -> tuple[ComposeInputs, dict[str, SourceConfig]]:
    taxonomy = load_taxonomy()
    sources = {s.name: s for s in map(load_source_config, configs)}
    examples = [e for s in sources.values() for e in import_source(s, taxonomy, root).examples]
    return ComposeInputs(examples, sources, taxonomy), sources


def test_composed_tiles_are_seeded_and_labelled_with_the_frames_boxes_and_the_placed_ones(tmp_path: Path) -> None:
    root, patrol, cn = _patrol_world(tmp_path, frames=2)
    inputs, _ = _inputs(root, patrol, cn)
    spec = ComposeSpec.model_validate(SPEC)
    tiles = list(compose_tiles(spec, inputs, seed=4))
    again = list(compose_tiles(spec, inputs, seed=4))
    other = list(compose_tiles(spec, inputs, seed=5))
    assert tiles and [t.jpeg for t in tiles] == [t.jpeg for t in again]
    assert [t.record for t in tiles] == [t.record for t in again]
    assert [t.jpeg for t in tiles] != [t.jpeg for t in other]
    frame_boxes = [
        tuple(v * 1920 / 1024 for v in b[1:]) for b in PATROL_BOXES
    ]  # every labelled box of the frame, at the camera's size
    for tile in tiles:
        decoded = cv2.imdecode(np.frombuffer(tile.jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert decoded.shape == (640, 640, 3) and tile.record["frame_size"] == [1080, 1920]
        assert tile.name.startswith("compose-patrol__f")
        placed = tile.record["placed"]
        assert placed and all(overlap_share(tuple(p["xyxy"]), frame_boxes) <= MAX_COVER for p in placed)
        for p in placed:
            if p["kind"] == "cutout":  # ground objects stand below the horizon, as tall as their row allows
                assert p["xyxy"][3] > tile.record["horizon_y"]
        # the tile's labels: the placed objects it shows and the frame's own mapped boxes (the sign stays unlabelled)
        ids = set(tile.labels.class_ids.tolist())
        assert ids <= {1, 2, 4, 0} and ids
        shown = tile.labels.xyxy(640, 640) + [tile.record["window"][0], tile.record["window"][1]] * 2
        assert len(shown) == len(tile.record["boxes_visible"])


def test_a_compose_entry_names_sources_of_the_build_and_something_to_place(tmp_path: Path) -> None:
    root, patrol, cn = _patrol_world(tmp_path, frames=1)
    with pytest.raises(ValidationError, match="cutouts or synthetic"):
        ComposeSpec(backgrounds="patrol")
    with pytest.raises(ValidationError, match="extra"):
        ComposeSpec.model_validate({**SPEC, "tiles": 3})
    with pytest.raises(ValidationError, match="low <= high"):
        ComposeSpec.model_validate({**SPEC, "horizon": [0.5, 0.3]})
    build = tmp_path / "build.yaml"
    body = {"name": "c-v1", "sources": [str(patrol)], "compose": [SPEC]}  # the donors' source is not in the build
    build.write_text(yaml.safe_dump(body))
    with pytest.raises(ValueError, match=r"compose: sources \['cn'\] are not in this build's sources"):
        build_dataset(build, tmp_path / "out", root)
    body = {"name": "c-v1", "sources": [str(patrol), str(cn)], "compose": [{**SPEC, "walls_m": {"door": 2.0}}]}
    build.write_text(yaml.safe_dump(body))
    with pytest.raises(ValueError, match=r"\['door'\] are not classes of patrol"):
        build_dataset(build, tmp_path / "out", root)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_build_with_a_compose_section_writes_tiles_with_provenance(tmp_path: Path) -> None:
    root, patrol, cn = _patrol_world(tmp_path, frames=3)
    build = tmp_path / "build.yaml"
    body = {"name": "c-v1", "seed": 2, "sources": [str(patrol), str(cn)], "compose": [SPEC]}
    build.write_text(yaml.safe_dump(body))
    target, manifest = build_dataset(build, tmp_path / "out", root)
    composed = [e for e in manifest.entries if e.source == "compose/patrol"]
    assert composed and all(e.split == "train" for e in composed)
    assert all(e.license == "derived from patrol (CC0 1.0)" and e.source_image.startswith("patrol/") for e in composed)
    records = {r["image"]: r for r in map(json.loads, (target / "synthetic.jsonl").read_text().splitlines())}
    assert {e.image for e in composed} <= records.keys()
    kinds = {p["kind"] for e in composed for p in records[e.image]["placed"]}
    assert "cutout" in kinds and kinds <= {"cutout", "illegal_ad", "dirty_facade"}
    donors = {p["detail"]["donor"] for e in composed for p in records[e.image]["placed"] if p["kind"] == "cutout"}
    assert donors and all(d.startswith("cn/images/train/") for d in donors)  # val photos never donate to train
    for entry in composed:
        image = cv2.imread(str(target / entry.image))
        assert image.shape == (640, 640, 3)
        assert sum(entry.boxes.values()) == len((target / entry.label).read_text().splitlines()) >= 1
