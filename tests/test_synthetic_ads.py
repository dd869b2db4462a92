from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from datasets.synthetic import ads
from datasets.synthetic.ads import AdTexts, cjk_font, compose_ads, phone_number, render_flyer
from datasets.synthetic.surface import WallSurface
from tests.conftest import SAMPLES
from vision.images import load_image


@pytest.fixture(scope="module")
def texts() -> AdTexts:
    return AdTexts.load()


def test_flyers_are_deterministic_weathered_bgra(texts: AdTexts) -> None:
    first, lines = render_flyer(np.random.default_rng(7), texts, cjk_font(), 60)
    again, _ = render_flyer(np.random.default_rng(7), texts, cjk_font(), 60)
    other, _ = render_flyer(np.random.default_rng(8), texts, cjk_font(), 60)
    assert first.dtype == np.uint8 and first.shape[2] == 4
    np.testing.assert_array_equal(first, again)
    assert first.shape != other.shape or not np.array_equal(first, other)
    assert 40 <= first.shape[0] <= 120  # about the asked height, grown a little by the perspective warp
    assert (first[..., 3] == 0).any()  # warped corners are transparent
    assert lines[0] in texts.headlines and any(ch.isdigit() for ch in lines[-1])


def test_small_flyers_are_area_averaged_unless_a_config_asks_for_the_old_bilinear_shrink(texts: AdTexts) -> None:
    """A flyer is drawn 3-9x large; area averaging leaves soft strokes, bilinear sampling jagged ones (base-v2)."""
    import cv2

    from datasets.synthetic.generate import SyntheticSpec

    jaggedness = []
    for shrink in ("area", "bilinear"):
        flyer, _ = render_flyer(np.random.default_rng(3), texts, cjk_font(), 16, shrink)  # type: ignore[arg-type]
        grey = cv2.cvtColor(flyer[..., :3], cv2.COLOR_BGR2GRAY).astype(np.float64)
        jaggedness.append(float(np.abs(cv2.Laplacian(grey, cv2.CV_64F))[flyer[..., 3] == 255].mean()))
    area, bilinear = jaggedness
    assert area < 0.8 * bilinear
    assert SyntheticSpec(generator="illegal_ad", backgrounds="fac").ad_shrink == "bilinear"  # old configs rebuild


def test_phone_numbers_look_like_chinese_mobile_numbers() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        digits = phone_number(rng).replace(" ", "")
        assert len(digits) == 11 and digits[0] == "1" and digits[1] in "3456789"


def test_ads_land_on_free_wall_in_reach_with_exact_boxes(texts: AdTexts) -> None:
    background = load_image(SAMPLES[0])
    h, w = background.shape[:2]
    forbidden = np.zeros((h, w), bool)
    forbidden[:, : w // 2] = True  # pretend the left half is a shop window
    surface = WallSurface(forbidden, top=h // 3, bottom=h - 10)
    for seed in range(5):
        composed, placed = compose_ads(np.random.default_rng(seed), background, surface, texts, cjk_font())
        assert composed.shape == background.shape and placed
        changed = np.abs(composed.astype(int) - background.astype(int)).sum(axis=2) > 0
        inside = np.zeros((h, w), bool)
        for p in placed:
            x0, y0, x1, y1 = p.xyxy
            assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h and p.visible >= 0.6
            assert forbidden[y0:y1, x0:x1].mean() < 0.3
            assert changed[y0:y1, x0:x1].mean() > 0.3  # the box holds the flyer
            inside[max(0, y0 - 3) : y1 + 3, max(0, x0 - 3) : x1 + 3] = True
        assert not changed[~inside].any()  # nothing else in the photo was touched


def test_surface_from_facade_boxes_puts_the_band_above_the_doors() -> None:
    structure = np.array([[100, 300, 160, 400], [300, 100, 340, 160]], np.float32)  # a door, a window
    surface = WallSurface.from_boxes((480, 640), structure, np.array([[400, 250, 450, 420]], np.float32))
    assert surface.bottom < 400 and surface.top < 300
    assert surface.forbidden[350, 130] and surface.forbidden[300, 420] and not surface.forbidden[350, 250]


def test_missing_cjk_font_names_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(ads, "CJK_FONTS", (str(tmp_path / "none.ttc"),))
    with pytest.raises(FileNotFoundError, match="fonts-wqy-zenhei"):
        cjk_font()
