"""Sliced inference for wide frames: the tile grid, the merge rule, and a real model finding a small object."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from tests.conftest import REPO_ROOT
from tests.factories import make_detections, make_wide_frame
from vision.detections import Detections
from vision.detector import Detector
from vision.errors import ModelLoadError
from vision.images import load_image
from vision.nms import box_iou
from vision.tiling import (
    MergeRule,
    TiledDetector,
    TilingConfig,
    cut_boxes,
    frame_views,
    merge_views,
    rotate_tiles,
    tile_grid,
    with_tiling,
)

TILE = (640, 640)


@pytest.mark.parametrize(
    ("frame_hw", "overlap", "expected_count"),
    [
        ((1080, 1920), 0.2, 8),  # 4 columns x 2 rows
        ((720, 1280), 0.2, 6),
        ((2160, 3840), 0.2, 32),  # 8 x 4
        ((1080, 1920), 0.5, 15),
        ((1080, 1920), 0.0, 6),
        ((641, 1500), 0.2, 6),
        ((640, 640), 0.2, 1),  # exactly one tile
        ((480, 500), 0.2, 1),  # smaller than a tile
        ((100, 5000), 0.2, 10),  # one row of tiles as high as the frame
    ],
)
def test_tile_grid_covers_the_frame_with_overlap_and_stays_inside(
    frame_hw: tuple[int, int], overlap: float, expected_count: int
) -> None:
    windows = tile_grid(frame_hw, TILE, overlap)
    height, width = frame_hw
    assert windows.shape == (expected_count, 4)
    assert (windows[:, :2] >= 0).all() and (windows[:, 2] <= width).all() and (windows[:, 3] <= height).all()
    sides = windows[:, 2:] - windows[:, :2]
    assert (sides == [min(TILE[1], width), min(TILE[0], height)]).all()  # never padded, never cut short
    covered = np.zeros(frame_hw, dtype=bool)
    for x0, y0, x1, y1 in windows:
        covered[y0:y1, x0:x1] = True
    assert covered.all()
    for axis, side in ((0, sides[0, 0]), (1, sides[0, 1])):
        starts = np.unique(windows[:, axis])
        assert (np.diff(starts) <= side * (1 - overlap) + 1).all()  # neighbours overlap by >= the fraction (±1 px)


@pytest.mark.parametrize(
    ("frame_shape", "tile", "overlap", "message"),
    [
        ((0, 100), TILE, 0.2, r"frame shape must start with \(height, width\) >= 1, got \(0, 100\)"),
        ((100,), TILE, 0.2, r"frame shape must start with \(height, width\) >= 1, got \(100,\)"),
        ((100, 100), (0, 640), 0.2, r"tile size must be \(height, width\) >= 1, got \(0, 640\)"),
        ((100, 100), TILE, 1.0, r"overlap must be in \[0, 1\), got 1.0"),
    ],
)
def test_tile_grid_refuses_bad_input(
    frame_shape: tuple[int, ...], tile: tuple[int, int], overlap: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        tile_grid(frame_shape, tile, overlap)


@pytest.mark.parametrize(
    ("frame_hw", "config", "expected_views"),
    [
        ((1080, 1920), TilingConfig(), 9),  # 8 tiles + the whole frame, last
        ((1080, 1920), TilingConfig(whole_frame=False), 8),
        ((720, 960), TilingConfig(), 5),  # shrunk 1.5x: 2 x 2 tiles + the whole frame
        ((600, 800), TilingConfig(), 1),  # shrunk 1.25x: about one tile, the whole frame alone
        ((600, 800), TilingConfig(min_downscale=1.0), 3),  # one row of two tiles as high as the frame
    ],
)
def test_frame_views(frame_hw: tuple[int, int], config: TilingConfig, expected_views: int) -> None:
    views = frame_views((*frame_hw, 3), TILE, config)
    assert len(views) == expected_views
    if config.whole_frame:
        assert views[-1].tolist() == [0, 0, frame_hw[1], frame_hw[0]]


@pytest.mark.parametrize(
    ("box", "window", "expected"),
    [
        ((500, 100, 640, 300), (0, 0, 640, 640), True),  # right edge of the tile, inside the frame
        ((500, 100, 634, 300), (0, 0, 640, 640), True),  # within the 8 px margin
        ((500, 100, 600, 300), (0, 0, 640, 640), False),
        ((0, 0, 100, 100), (0, 0, 640, 640), False),  # the frame's own border: nothing beyond it
        ((1800, 900, 1920, 1080), (1280, 440, 1920, 1080), False),
        ((1280, 500, 1400, 600), (1280, 440, 1920, 1080), True),  # left edge of the last column
        ((0, 0, 1920, 1080), (0, 0, 1920, 1080), False),  # the whole frame is never cut
    ],
)
def test_cut_boxes_touch_an_inner_edge(box: tuple[float, ...], window: tuple[int, ...], expected: bool) -> None:
    xyxy = np.array([box], dtype=np.float32)
    assert cut_boxes(xyxy, np.array(window), (1080, 1920), margin=8.0).tolist() == [expected]


# Two tiles side by side on a 640 x 1067 frame, and the whole frame; boxes below are in each view's own pixels.
LEFT, RIGHT, WHOLE = (0, 0, 640, 640), (427, 0, 1067, 640), (0, 0, 1067, 640)
Row = tuple[float, float, float, float, float, int]


@pytest.mark.parametrize(
    ("views", "expected"),
    [
        pytest.param(  # cut by both tiles, nothing else sees it: one box, the union
            {LEFT: [(400, 100, 640, 300, 0.6, 0)], RIGHT: [(0, 100, 373, 300, 0.7, 0)]},
            [(400, 100, 800, 300, 0.7, 0)],
            id="split-across-two-tiles",
        ),
        pytest.param(  # a half box in the left tile, the whole box in the right one: the whole box wins
            {LEFT: [(540, 100, 640, 300, 0.8, 0)], RIGHT: [(113, 100, 373, 300, 0.6, 0)]},
            [(540, 100, 800, 300, 0.8, 0)],
            id="cut-half-and-whole",
        ),
        pytest.param(  # a tile and the whole frame: one box, the more confident uncut one, the highest score
            {LEFT: [(100, 100, 160, 200, 0.9, 0)], WHOLE: [(98, 102, 161, 199, 0.5, 0)]},
            [(100, 100, 160, 200, 0.9, 0)],
            id="tile-and-whole-frame",
        ),
        pytest.param(  # two objects side by side, each seen by a tile and the whole frame: they stay two
            {
                LEFT: [(100, 100, 160, 200, 0.9, 0), (150, 100, 210, 200, 0.8, 0)],
                WHOLE: [(101, 101, 159, 201, 0.7, 0), (151, 99, 211, 199, 0.6, 0)],
            },
            [(100, 100, 160, 200, 0.9, 0), (150, 100, 210, 200, 0.8, 0)],
            id="close-objects-stay-two",
        ),
        pytest.param(  # the same box in two classes: never merged across classes
            {LEFT: [(100, 100, 160, 200, 0.9, 0)], WHOLE: [(100, 100, 160, 200, 0.8, 1)]},
            [(100, 100, 160, 200, 0.9, 0), (100, 100, 160, 200, 0.8, 1)],
            id="classes-never-merge",
        ),
        pytest.param(  # a cut box no other view saw is kept, not dropped
            {LEFT: [(600, 100, 640, 300, 0.4, 0)], RIGHT: [], WHOLE: []},
            [(600, 100, 640, 300, 0.4, 0)],
            id="lone-cut-box-kept",
        ),
        pytest.param(  # two uncut boxes of one view are two objects, even nested: the detector's NMS decided
            {LEFT: [(100, 100, 300, 300, 0.9, 0), (120, 120, 200, 200, 0.5, 0)]},
            [(100, 100, 300, 300, 0.9, 0), (120, 120, 200, 200, 0.5, 0)],
            id="one-view-never-joined",
        ),
    ],
)
def test_merge_views(views: dict[tuple[int, ...], list[Row]], expected: list[Row]) -> None:
    merged = merge_views(
        [make_detections(rows) for rows in views.values()], np.array(list(views)), (640, 1067), TilingConfig()
    )
    want = make_detections(expected)
    order = np.lexsort((merged.xyxy[:, 0], merged.class_id))
    np.testing.assert_allclose(merged.xyxy[order], want.xyxy, atol=1e-4)
    np.testing.assert_allclose(merged.confidence[order], want.confidence, atol=1e-6)
    assert merged.class_id[order].tolist() == want.class_id.tolist()


def test_plain_iou_nms_leaves_the_cut_half_next_to_the_whole_box() -> None:
    # why the overlap rule exists: the half box and the whole box have IoU 100/260 = 0.38
    views = [make_detections([(540, 100, 640, 300, 0.8, 0)]), make_detections([(113, 100, 373, 300, 0.6, 0)])]
    windows = np.array([LEFT, RIGHT])
    assert len(merge_views(views, windows, (640, 1067), TilingConfig(merge=MergeRule.IOU))) == 2
    assert len(merge_views(views, windows, (640, 1067), TilingConfig())) == 1


def test_merge_views_wants_one_detections_per_window() -> None:
    with pytest.raises(ValueError, match=r"expected one Detections per window \(2\), got 1"):
        merge_views([Detections.empty()], np.array([LEFT, RIGHT]), (640, 1067), TilingConfig())


def test_config_is_validated_like_a_card_entry() -> None:
    assert TilingConfig.model_validate({"overlap": 0.25, "tile_size": [512, 512]}).tile_size == (512, 512)
    with pytest.raises(ValidationError, match="overlap"):
        TilingConfig(overlap=0.9)
    with pytest.raises(ValidationError, match="tile_size"):
        TilingConfig.model_validate({"tile_size": [0, 640]})
    with pytest.raises(ValidationError, match="extra_forbidden"):
        TilingConfig.model_validate({"tiles": True})


class WhiteBlobDetector:
    """A stand-in detector: the bounding box of the white pixels of each image is one class-0 object."""

    class_names = ("blob",)
    input_size = TILE

    def __init__(self) -> None:
        self.batches: list[list[tuple[int, ...]]] = []

    def detect(self, image: np.ndarray) -> Detections:
        return self.detect_batch([image])[0]

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Detections]:
        self.batches.append([image.shape for image in images])
        results = []
        for image in images:
            ys, xs = np.nonzero(image[:, :, 0] == 255)
            rows = [(xs.min(), ys.min(), xs.max() + 1, ys.max() + 1, 0.9, 0)] if xs.size else []
            results.append(make_detections(rows))
        return results


@pytest.mark.parametrize("whole_frame", [True, False])
def test_tiled_detector_finds_an_object_across_tiles_once(whole_frame: bool) -> None:
    frame = np.zeros((1080, 1920, 3), dtype=np.uint8)
    frame[600:700, 1000:1300] = 255  # across the tile edges at x = 1067 and y = 640
    inner = WhiteBlobDetector()
    tiled = TiledDetector(inner, TilingConfig(whole_frame=whole_frame))
    assert isinstance(tiled, Detector)
    assert tiled.class_names == ("blob",) and tiled.input_size == TILE
    found = tiled.detect_batch([frame, frame[:500, :700]])
    assert len(inner.batches) == 1  # every view of every image in one batch
    assert inner.batches[0].count((640, 640, 3)) == 8 and ((1080, 1920, 3) in inner.batches[0]) == whole_frame
    np.testing.assert_array_equal(found[0].xyxy, [[1000, 600, 1300, 700]])
    assert len(found[1]) == 0  # the small image went through whole, as it is


def test_with_tiling_wraps_only_when_configured() -> None:
    inner = WhiteBlobDetector()
    assert with_tiling(inner, None) is inner
    wrapped = with_tiling(inner, TilingConfig(overlap=0.3))
    assert isinstance(wrapped, TiledDetector) and wrapped.config.overlap == 0.3


# garbage-street__img93: one labelled pile of litter (class 0 garbage = exposed_garbage), 640 x 640 px.
LITTER_PHOTO = REPO_ROOT / "samples" / "images" / "garbage-street__img93.jpg"
LITTER_SCALE = 0.25  # the pile becomes ~105 x 29 px of a 1920 x 1080 frame: ~35 x 10 px after the 640 letterbox


@pytest.fixture(scope="module")
def starter_detector():  # type: ignore[no-untyped-def]
    from vision.onnx_backend import OnnxDetector, OnnxOptions

    return OnnxDetector(
        REPO_ROOT / "models" / "zoo" / "streetwatch-starter" / "model.onnx", options=OnnxOptions(threads=2)
    )


def _litter_box(top_left: tuple[int, int]) -> np.ndarray:
    """The labelled pile's box in the wide frame."""
    label = (REPO_ROOT / "samples" / "labels" / "garbage-street__img93.txt").read_text().split()
    cx, cy, w, h = (float(v) * 640 * LITTER_SCALE for v in label[1:5])
    x, y = top_left
    return np.array([[x + cx - w / 2, y + cy - h / 2, x + cx + w / 2, y + cy + h / 2]])


@pytest.mark.parametrize(
    "top_left",
    [
        pytest.param((880, 568), id="inside-two-tiles"),
        pytest.param((993, 509), id="across-tile-edges"),  # plain IoU-NMS leaves two boxes here (measured)
    ],
)
def test_tiles_find_litter_the_whole_frame_misses(starter_detector, top_left: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    frame = make_wide_frame(load_image(LITTER_PHOTO), LITTER_SCALE, top_left)
    garbage = starter_detector.class_names.index("exposed_garbage")
    truth = _litter_box(top_left)

    def overlaps(detections: Detections) -> np.ndarray:
        mine = detections[detections.class_id == garbage]
        return box_iou(truth, mine.xyxy)[0]

    # measured: the whole frame has no box on the pile even at confidence 0.05; the tiles find it at 0.48-0.54
    assert not (overlaps(starter_detector.detect(frame)) > 0.1).any()
    found = overlaps(TiledDetector(starter_detector).detect(frame))
    assert (found > 0.1).sum() == 1, f"expected one box on the pile, got IoUs {found[found > 0.1]}"
    assert found.max() >= 0.7  # measured 0.81 and 0.86


@pytest.fixture
def card_zoo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Makes a zoo holding one model, "m", whose card has the given `inference` entry (None: no entry)."""
    from models import registry

    monkeypatch.setattr(registry, "ZOO_DIR", tmp_path)

    def make(inference: Any) -> str:
        card: dict[str, Any] = {"name": "m", "version": "1"}
        if inference is not None:
            card["inference"] = inference
        (tmp_path / "m").mkdir(exist_ok=True)
        (tmp_path / "m" / "card.json").write_text(json.dumps(card), encoding="utf-8")
        return "m"

    return make


@pytest.mark.parametrize(
    ("inference", "tiles", "expected"),
    [
        (None, None, None),  # every shipped card today: the whole frame only
        (None, True, TilingConfig()),
        ({"tiling": {}}, None, TilingConfig()),
        ({"tiling": {"overlap": 0.3}}, None, TilingConfig(overlap=0.3)),
        ({"tiling": {"overlap": 0.3}}, True, TilingConfig(overlap=0.3)),
        ({"tiling": {"overlap": 0.3}}, False, None),
        ({"tiling": True}, None, TilingConfig()),
        ({"tiling": False}, None, None),
        ({"tiling": False}, True, TilingConfig()),
    ],
)
def test_tiling_config_follows_the_card_unless_forced(card_zoo, inference: Any, tiles: bool | None, expected) -> None:  # type: ignore[no-untyped-def]
    from models.registry import tiling_config

    assert tiling_config(card_zoo(inference), tiles) == expected


@pytest.mark.parametrize(
    ("inference", "message"),
    [
        ({"tiling": {"overlap": 2}}, r"(?s)card.json inference.tiling is not valid: .*overlap"),
        ({"tiling": {"tiles": 4}}, r"(?s)card.json inference.tiling is not valid: .*tiles"),
        ([], r"card.json inference must be an object, got \[\]"),
    ],
)
def test_a_bad_card_tiling_entry_is_named(card_zoo, inference: Any, message: str) -> None:  # type: ignore[no-untyped-def]
    from models.registry import tiling_config

    with pytest.raises(ModelLoadError, match=message):
        tiling_config(card_zoo(inference))


def test_shipped_models_and_weights_files_stay_whole_frame_unless_forced() -> None:
    from models.registry import list_models, tiling_config

    assert [tiling_config(name) for name in list_models()] == [None] * len(list_models())
    weights = REPO_ROOT / "models" / "zoo" / "coco-yolov8n" / "model.onnx"
    assert tiling_config(weights) is None and tiling_config(weights, tiles=True) == TilingConfig()


def test_detect_cli_tiles_on_request(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from streetwatch.cli import app

    wide = tmp_path / "wide.png"
    cv2.imwrite(str(wide), make_wide_frame(load_image(LITTER_PHOTO), LITTER_SCALE, (880, 568)))
    litter = _litter_box((880, 568))
    found = {}
    for option in ("--tiles", "--no-tiles", None):
        out = tmp_path / str(option)
        args = ["detect", str(wide), "--model", "streetwatch-starter", "--threads", "2", "--out", str(out)]
        result = CliRunner().invoke(app, args + ([option] if option else []))
        assert result.exit_code == 0, result.output
        assert ("640x640 tiles overlapping by 20% plus the whole image" in result.output) == (option == "--tiles")
        records = json.loads((out / "detections.json").read_text(encoding="utf-8"))["images"][0]["detections"]
        boxes = np.array([r["xyxy"] for r in records if r["class_name"] == "exposed_garbage"]).reshape(-1, 4)
        found[option] = int((box_iou(litter, boxes)[0] >= 0.7).sum())
    assert found == {"--tiles": 1, "--no-tiles": 0, None: 0}  # the starter's card has no tiling entry


def test_tiles_per_frame_rotates_through_every_tile_and_keeps_the_whole_frame() -> None:
    config = TilingConfig(tiles_per_frame=3)
    views = frame_views((1080, 1920), (640, 640), config)  # 8 tiles + the whole frame
    turns = [rotate_tiles(views, config, turn) for turn in range(3)]
    assert all(len(v) == 4 and v[-1].tolist() == [0, 0, 1920, 1080] for v in turns)
    seen = [tuple(w) for v in turns for w in v[:-1].tolist()]
    assert sorted(set(seen)) == sorted(tuple(w) for w in views[:-1].tolist())  # 3 turns of 3 cover all 8 tiles
    assert rotate_tiles(views, TilingConfig(), 5) is views  # no limit: every tile every frame
    few = frame_views((576, 1024), (640, 640), config)  # 2 tiles + whole: under the limit
    assert rotate_tiles(few, config, 1) is few
    tiles_only = TilingConfig(tiles_per_frame=2, whole_frame=False)
    only = frame_views((1080, 1920), (640, 640), tiles_only)
    assert [len(rotate_tiles(only, tiles_only, t)) for t in range(4)] == [2, 2, 2, 2]


def test_a_rotating_tiled_detector_runs_fewer_views_per_frame() -> None:
    class Counting:
        class_names = ("thing",)
        input_size = (640, 640)

        def __init__(self) -> None:
            self.calls: list[int] = []

        def detect(self, image):  # type: ignore[no-untyped-def]
            return self.detect_batch([image])[0]

        def detect_batch(self, images):  # type: ignore[no-untyped-def]
            self.calls.append(len(images))
            return [make_detections([]) for _ in images]

    inner = Counting()
    tiled = TiledDetector(inner, TilingConfig(tiles_per_frame=2))  # type: ignore[arg-type]
    frame = np.zeros((1080, 1920, 3), np.uint8)
    for _ in range(3):
        tiled.detect(frame)
    tiled.detect_batch([frame, frame])
    assert inner.calls == [3, 3, 3, 6]  # 2 tiles + the whole frame each, not 8 + 1


@pytest.mark.parametrize(("tiles", "tiled"), [(None, True), (False, False), (True, True)])
def test_every_user_of_load_detector_gets_the_cards_tiling(
    card_zoo, tmp_path: Path, tiles: bool | None, tiled: bool
) -> None:  # type: ignore[no-untyped-def]
    import shutil

    from datasets.fingerprints import sha256_file
    from inference_server.models_api import ServedModel
    from models.registry import load_detector

    name = card_zoo({"tiling": {"overlap": 0.3}})
    onnx = shutil.copyfile(
        REPO_ROOT / "models" / "zoo" / "streetwatch-starter" / "model.onnx", tmp_path / name / "model.onnx"
    )
    card = json.loads((tmp_path / name / "card.json").read_text(encoding="utf-8"))
    card["files"] = {"model.onnx": sha256_file(onnx)}  # the server checks the files a card lists before loading
    (tmp_path / name / "card.json").write_text(json.dumps(card), encoding="utf-8")
    detector = load_detector(name, tiles=tiles)
    served, _ = ServedModel(name, tiles=tiles).current()  # the server's frame and video jobs
    for made in (detector, served):
        assert isinstance(made, TiledDetector) == tiled
        if tiled:
            assert made.config == TilingConfig(overlap=0.3)
