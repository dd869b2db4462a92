"""Where synthetic objects may go on a real facade photo: wall, within reach, not on windows, doors or people."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]


@dataclass(frozen=True)
class WallSurface:
    """Where things may go on a facade photo: forbidden pixels, the band of rows within arm's reach, and the
    facade's structure boxes (windows, doors, signs) in pixels."""

    forbidden: Array
    top: int
    bottom: int
    structure: Array = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    off_wall: Array | None = None  # pixels not of the wall's colour, when an image was given

    def wall_only(self) -> WallSurface:
        """The same surface with off-wall pixels forbidden too (for stains, which only make sense on the wall)."""
        if self.off_wall is None:
            return self
        return replace(self, forbidden=self.forbidden | self.off_wall)

    @classmethod
    def from_boxes(
        cls, shape: tuple[int, int], structure: Array, occluders: Array, image: Array | None = None
    ) -> WallSurface:
        """From pixel xyxy boxes of the facade's structure (windows, doors, signs) and of occluders (people, cars).

        Things go on wall, not on what those boxes cover; vertically between ground level (the lowest structure box
        bottom, usually a door) and about two door heights above it. With `image`, pixels whose colour is far from
        the facade's own wall colour (sampled around the windows) are marked `off_wall` (sidewalk, unlabelled
        doors, glass, awnings), for generators that call `wall_only()`.
        """
        h, w = shape
        forbidden = np.zeros((h, w), bool)
        for x0, y0, x1, y1 in np.vstack([structure.reshape(-1, 4), occluders.reshape(-1, 4)]):
            pad_x, pad_y = (x1 - x0) * 0.08, (y1 - y0) * 0.08
            rows = slice(max(0, int(y0 - pad_y)), int(y1 + pad_y) + 1)
            forbidden[rows, max(0, int(x0 - pad_x)) : int(x1 + pad_x) + 1] = True
        off_wall = None
        if image is not None and len(structure):
            off_wall = ~_wall_coloured(image, structure.reshape(-1, 4), forbidden)
        if len(structure):
            ground = int(structure[:, 3].max())
            reach = 2.2 * float(np.median(structure[:, 3] - structure[:, 1]))
            band = (max(0, int(ground - reach)), max(1, ground - 2))
            return cls(forbidden, *band, structure.reshape(-1, 4), off_wall)
        return cls(forbidden, int(h * 0.45), int(h * 0.85))

    def free_point(self, rng: np.random.Generator, size: int) -> tuple[int, int] | None:
        """A random point in the reach band whose (2 size)-square neighbourhood is almost all free wall."""
        h, w = self.forbidden.shape
        top, bottom = max(size // 2, self.top + size // 2), min(h - size // 2, self.bottom - size // 2)
        if bottom <= top:
            return None
        for _ in range(40):
            x, y = int(rng.integers(size, max(size + 1, w - size))), int(rng.integers(top, bottom))
            window = self.forbidden[max(0, y - size) : y + size, max(0, x - size) : x + size]
            if window.size and window.mean() < 0.05:
                return x, y
        return None


# CIELAB distance (OpenCV's 8-bit Lab) beyond which a pixel is not the facade's wall: sidewalk grey, door brown,
# glass, awnings differ by more; the same wall in shade or sun stays within.
WALL_COLOUR_DISTANCE = 22.0


def _wall_coloured(image: Array, structure: Array, forbidden: Array) -> Array:
    """Pixels whose (smoothed) colour is close to the wall colour sampled in rings around the structure boxes."""
    h, w = forbidden.shape
    lab = cv2.cvtColor(cv2.GaussianBlur(image, (0, 0), 3), cv2.COLOR_BGR2LAB).astype(np.float32)
    ring = np.zeros((h, w), bool)
    for x0, y0, x1, y1 in structure:
        pad = 0.35 * max(x1 - x0, y1 - y0)
        ring[max(0, int(y0 - pad)) : int(y1 + pad), max(0, int(x0 - pad)) : int(x1 + pad)] = True
    samples = lab[ring & ~forbidden]
    if len(samples) < 100:
        return np.ones((h, w), bool)
    wall = np.median(samples, axis=0)
    return np.asarray(np.linalg.norm(lab - wall, axis=2) < WALL_COLOUR_DISTANCE)
