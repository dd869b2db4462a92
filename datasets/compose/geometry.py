"""Where an object stands in a patrol car's frame and how big it is there: a flat-ground pinhole model.

A forward-looking camera `c` metres above flat ground, focal length `f` pixels, horizon at row `y_h`, sees a ground
point at depth `Z` metres at row `y = y_h + f c / Z`. At that depth one metre spans `f / Z` pixels, so

    pixels per metre at ground row y  =  (y - y_h) / c

— an object standing with its foot on row `y` is `height_m (y - y_h) / c` pixels tall: linear in its foot's
distance below the horizon, nothing on the horizon, nothing standing above it. A point `X` metres to the side of
the camera's axis lies `X (y - y_h) / c` pixels from the vanishing point's column, which keeps ground objects off
the lane the car drives in and on the road side and kerb.

Things on a wall (ads, stains) are scaled by a labelled box on that wall of known real height instead: the wall's
distance is not known from the ground model alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels


@dataclass(frozen=True)
class GroundCamera:
    """A forward-looking camera over flat ground, in the pixels of one frame."""

    height: int
    width: int
    horizon_y: float
    camera_height_m: float

    def __post_init__(self) -> None:
        if self.camera_height_m <= 0 or not 0 <= self.horizon_y < self.height:
            raise ValueError(
                f"need a camera height > 0 and a horizon inside the frame's {self.height} rows, "
                f"got {self.camera_height_m} m and row {self.horizon_y}"
            )

    def px_per_m(self, y: float) -> float:
        """Pixels per metre at ground row `y`: (y - horizon) / camera height; 0 at and above the horizon."""
        return max(0.0, y - self.horizon_y) / self.camera_height_m

    def nearest_row(self, height_m: float, min_height_px: float) -> float:
        """The row nearest the horizon where an object `height_m` tall is still `min_height_px` tall."""
        return self.horizon_y + min_height_px * self.camera_height_m / height_m

    def column(self, y: float, lateral_m: float) -> float:
        """The column of a ground point on row `y`, `lateral_m` metres right (negative: left) of the camera's axis."""
        return self.width / 2 + lateral_m * self.px_per_m(y)

    def standing_box(self, foot_x: float, foot_y: float, height_m: float, aspect: float) -> Box:
        """The box of an object `height_m` tall and `aspect` (width / height) wide whose foot is (foot_x, foot_y)."""
        tall = height_m * self.px_per_m(foot_y)
        wide = tall * aspect
        return (foot_x - wide / 2, foot_y - tall, foot_x + wide / 2, foot_y)


def wall_scale(anchor: Box, anchor_height_m: float) -> float:
    """Pixels per metre on the wall a box of `anchor_height_m` real height lies on."""
    if anchor_height_m <= 0:
        raise ValueError(f"a wall reference's height must be > 0 m, got {anchor_height_m}")
    return (anchor[3] - anchor[1]) / anchor_height_m


def area(box: Box) -> float:
    """A box's area; 0 for an empty one."""
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def overlap_share(box: Box, others: Iterable[Box]) -> float:
    """The largest share of either box's area that `box` and any of `others` have in common (0 if none)."""
    worst = 0.0
    for other in others:
        common = area((max(box[0], other[0]), max(box[1], other[1]), min(box[2], other[2]), min(box[3], other[3])))
        smaller = min(area(box), area(other))
        if common > 0:
            worst = max(worst, common / smaller if smaller > 0 else 1.0)
    return worst


def inside(box: Box, width: int, height: int) -> bool:
    """Whether the box lies wholly in a frame of `width` x `height`."""
    return box[0] >= 0 and box[1] >= 0 and box[2] <= width and box[3] <= height


def clip(box: Box, width: int, height: int) -> Box:
    """The box cut to a frame of `width` x `height`."""
    return (max(0.0, box[0]), max(0.0, box[1]), min(float(width), box[2]), min(float(height), box[3]))
