from __future__ import annotations

import numpy as np

from datasets.synthetic.grime import _bezier, compose_grime
from datasets.synthetic.surface import WallSurface
from tests.conftest import SAMPLES
from vision.images import load_image


def _facade() -> tuple[np.ndarray, WallSurface, np.ndarray]:
    image = load_image(next(p for p in SAMPLES if p.name.startswith("facades-spb")))
    h, w = image.shape[:2]
    windows = np.array([[w * 0.2, h * 0.1, w * 0.3, h * 0.25], [w * 0.6, h * 0.1, w * 0.7, h * 0.25]], np.float32)
    door = np.array([[w * 0.45, h * 0.6, w * 0.55, h * 0.9]], np.float32)
    return image, WallSurface.from_boxes((h, w), np.vstack([windows, door]), np.zeros((0, 4))), windows


def test_stains_are_deterministic_and_boxed_where_the_wall_changed() -> None:
    image, surface, windows = _facade()
    kinds = set()
    for seed in range(8):
        first, stains = compose_grime(np.random.default_rng(seed), image, surface, windows)
        again, _ = compose_grime(np.random.default_rng(seed), image, surface, windows)
        np.testing.assert_array_equal(first, again)
        changed = np.abs(first.astype(int) - image.astype(int)).max(axis=2) >= 8
        for stain in stains:
            x0, y0, x1, y1 = stain.xyxy
            assert 0 <= x0 < x1 <= image.shape[1] and 0 <= y0 < y1 <= image.shape[0]
            assert changed[y0:y1, x0:x1].mean() > 0.05, stain
            kinds.add(stain.kind)
        if not stains:
            np.testing.assert_array_equal(first, image)
    assert kinds == {"streaks", "patch", "tag"}


def test_streaks_hang_below_an_upper_window() -> None:
    image, surface, windows = _facade()
    for seed in range(30):
        _, stains = compose_grime(np.random.default_rng(seed), image, surface, windows)
        for stain in (s for s in stains if s.kind == "streaks"):
            x0, y0, x1, _ = stain.xyxy
            assert any(
                wy1 - 2 <= y0 <= wy1 + 8 and wx0 - 0.1 * (wx1 - wx0) <= x0 and x1 <= wx1 + 0.1 * (wx1 - wx0)
                for wx0, _, wx1, wy1 in windows
            ), stain


def test_bezier_ends_at_its_end_points() -> None:
    control = np.array([[0, 0], [5, 10], [10, 0]], np.float64)
    curve = _bezier(control, np.linspace(0, 1, 11))
    np.testing.assert_allclose(curve[0], [0, 0])
    np.testing.assert_allclose(curve[-1], [10, 0])
    np.testing.assert_allclose(curve[5], [5, 5])
