"""Placing one object on a patrol-view frame: real cut-outs and stalls on the ground, ads and stains on walls.

Every placer tries a few spots and gives up (None) rather than bend a rule: an object stays wholly inside the
frame, covers no labelled box (`Canvas.blockers`: every box the source labels, hard negatives included, and every
object placed before; at most `MAX_COVER` of either box in common), and has the size the perspective model gives
its spot. Ground objects stand to the side of the car's lanes (geometry.py); wall objects go beside a box the
source labels on a wall, at that box's pixels per metre.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from datasets.compose.cutouts import MARGIN, MAX_UPSCALE, Donor, cut_out, paste_cutout
from datasets.compose.geometry import Box, GroundCamera, clip, inside, overlap_share, wall_scale
from datasets.synthetic.ads import AdTexts, render_flyer
from datasets.synthetic.canvas import Paste, paste_all
from datasets.synthetic.grime import compose_grime
from datasets.synthetic.stalls import FOCAL_PER_SIDE, Sprite, composite_sprite
from datasets.synthetic.surface import WallSurface

Array = npt.NDArray[Any]

ATTEMPTS = 12  # spots tried per object
MAX_COVER = 0.05  # share of a labelled box (or of the object) the two may have in common
AD_HEIGHT_M = (0.3, 0.8)  # flyers, stickers and small posters
GRIME_FIELD_M = (2.5, 6.0)  # side of the patch of wall the grime generator stains (its stains are ~0.1-0.4 of it)
BESIDE = (0.2, 2.0)  # a wall object's gap to its reference box, in the larger of their widths
MAX_STALL_SCALE = 2.0  # as stalls.py: renders are not enlarged more than this


@dataclass
class Canvas:
    """A frame being composed (float32 BGR, changed in place) and what placement must respect."""

    image: Array
    camera: GroundCamera
    blockers: list[Box]
    walls: list[tuple[Box, float]]  # boxes the source labels on walls, with their real height (metres)
    sharpness: float
    min_height_px: float  # in this frame's pixels
    sides_m: tuple[tuple[float, float], tuple[float, float]]  # (right, left): metres off the camera's axis
    placed: list[Placed] = field(default_factory=list)

    def free(self, box: Box) -> bool:
        """Whether `box` lies in the frame and covers nothing that must stay visible."""
        h, w = self.image.shape[:2]
        return inside(box, w, h) and overlap_share(box, self.blockers) <= MAX_COVER

    def add(self, placed: Placed, footprint: Box) -> Placed:
        """Record a placed object; nothing placed later may cover its footprint."""
        self.blockers.append(footprint)
        self.placed.append(placed)
        return placed


@dataclass(frozen=True)
class Placed:
    """An object placed on a frame: its class (taxonomy id), its visible box (frame pixels), what it was."""

    class_id: int
    xyxy: Box
    kind: str
    detail: dict[str, Any]
    foot_y: float | None = None  # the ground row it stands on (ground objects)


def ground_spot(rng: np.random.Generator, canvas: Canvas, height_m: float) -> tuple[float, float] | None:
    """A foot point (x, y) on the ground to one side of the car, no farther than `min_height_px` allows."""
    camera = canvas.camera
    near = camera.nearest_row(height_m, canvas.min_height_px)
    if near >= camera.height:
        return None
    y = float(rng.uniform(near, camera.height))
    right = rng.random() < 0.5
    lateral = float(rng.uniform(*canvas.sides_m[0 if right else 1]))
    return camera.column(y, lateral if right else -lateral), y


def wall_spot(rng: np.random.Generator, anchor: Box, size: tuple[float, float]) -> Box:
    """A box of `size` (w, h) beside `anchor` on its wall: level with it, left or right of it."""
    width, height = size
    gap = float(rng.uniform(*BESIDE)) * max(anchor[2] - anchor[0], width)
    side = 1.0 if rng.random() < 0.5 else -1.0
    half = (anchor[2] - anchor[0]) / 2 + gap + width / 2
    cx = (anchor[0] + anchor[2]) / 2 + side * half
    cy = float(rng.uniform(anchor[1], anchor[3]))
    return (cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2)


def place_cutout(
    rng: np.random.Generator, canvas: Canvas, donors: list[Donor], height_m: tuple[float, float]
) -> Placed | None:
    """A real object from `donors` standing on the ground, `height_m` tall (drawn)."""
    for _ in range(ATTEMPTS):
        donor = donors[int(rng.integers(len(donors)))]
        metres = float(rng.uniform(*height_m))
        spot = ground_spot(rng, canvas, metres)
        if spot is None:
            continue
        target = canvas.camera.standing_box(spot[0], spot[1], metres, donor.aspect)
        tw, th = target[2] - target[0], target[3] - target[1]
        footprint = (target[0] - MARGIN * tw, target[1] - MARGIN * th, target[2] + MARGIN * tw, target[3] + MARGIN * th)
        if th > MAX_UPSCALE * (donor.box[3] - donor.box[1]) or not canvas.free(target):
            continue
        h, w = canvas.image.shape[:2]
        if overlap_share(clip(footprint, w, h), canvas.blockers) > MAX_COVER:
            continue
        photo = cv2.imread(str(donor.example.image), cv2.IMREAD_COLOR)
        if photo is None:
            raise ValueError(f"{donor.example.image} can no longer be decoded")
        box = paste_cutout(rng, canvas.image, cut_out(photo, donor.box), target, canvas.sharpness)
        detail = {"donor": donor.example.source_image, "height_m": round(metres, 2)}
        return canvas.add(Placed(donor.class_id, box, "cutout", detail, spot[1]), clip(footprint, w, h))
    return None


def place_stall(rng: np.random.Generator, canvas: Canvas, sprites: list[Sprite], class_id: int) -> Placed | None:
    """A rendered street stall standing on the ground, seen from about the elevation of its spot."""
    camera = canvas.camera
    h, w = canvas.image.shape[:2]
    focal = FOCAL_PER_SIDE * max(h, w)
    for _ in range(ATTEMPTS):
        spot = ground_spot(rng, canvas, 2.0)  # a stall is about 2 m tall; the render's own height sizes it below
        if spot is None:
            continue
        elevation = float(np.degrees(np.arctan((spot[1] - camera.horizon_y) / focal)))
        candidates = rng.choice(len(sprites), size=min(12, len(sprites)), replace=False)
        index = int(min(candidates, key=lambda i: abs(sprites[i].elevation - elevation)))
        sprite = sprites[index].flipped() if rng.random() < 0.5 else sprites[index]
        scale = camera.px_per_m(spot[1]) / sprite.px_per_m
        if not 0.05 < scale < MAX_STALL_SCALE:
            continue
        ox, oy = spot[0] - sprite.foot[0] * scale, spot[1] - sprite.foot[1] * scale
        box = (ox + sprite.box[0] * scale, oy + sprite.box[1] * scale, ox + sprite.box[2] * scale,
               oy + sprite.box[3] * scale)  # fmt: skip
        if box[3] - box[1] < canvas.min_height_px or not canvas.free(box):
            continue
        composite_sprite(rng, canvas.image, sprite, scale, ox, oy)
        detail = {"sprite": int(sprite.record["index"]), "kind": sprite.record["kind"]}
        return canvas.add(Placed(class_id, box, "street_stall", detail, spot[1]), box)
    return None


def place_ad(rng: np.random.Generator, canvas: Canvas, texts: AdTexts, font: Path, class_id: int) -> Placed | None:
    """A flyer (datasets/synthetic/ads.py) pasted on a wall beside a box the source labels there."""
    for _ in range(ATTEMPTS if canvas.walls else 0):
        anchor, anchor_m = canvas.walls[int(rng.integers(len(canvas.walls)))]
        height = float(rng.uniform(*AD_HEIGHT_M)) * wall_scale(anchor, anchor_m)
        if height < canvas.min_height_px:
            continue
        flyer, lines = render_flyer(rng, texts, font, round(height), "area")
        fh, fw = flyer.shape[:2]
        spot = wall_spot(rng, anchor, (fw, fh))
        if not canvas.free(spot):
            continue
        pasted, visible = paste_all(rng, canvas.image, [Paste(flyer, round(spot[0]), round(spot[1]))])
        box = visible[0][0]
        if box is None:
            continue
        canvas.image[...] = pasted
        xyxy = (float(box[0]), float(box[1]), float(box[2]), float(box[3]))
        return canvas.add(Placed(class_id, xyxy, "illegal_ad", {"lines": list(lines)}), spot)
    return None


def place_grime(rng: np.random.Generator, canvas: Canvas, class_id: int) -> list[Placed]:
    """Stains (datasets/synthetic/grime.py) on a patch of wall beside a box the source labels there."""
    h, w = canvas.image.shape[:2]
    for _ in range(ATTEMPTS if canvas.walls else 0):
        anchor, anchor_m = canvas.walls[int(rng.integers(len(canvas.walls)))]
        side = float(rng.uniform(*GRIME_FIELD_M)) * wall_scale(anchor, anchor_m)
        field_box = clip(wall_spot(rng, anchor, (side, side)), w, h)
        x0, y0, x1, y1 = (round(v) for v in field_box)
        if min(x1 - x0, y1 - y0) < 4 * canvas.min_height_px:
            continue
        surface = WallSurface(_covered(canvas.blockers, (x0, y0, x1, y1)), 0, y1 - y0)
        stained, stains = compose_grime(rng, canvas.image[y0:y1, x0:x1], surface, np.zeros((0, 4), np.float32))
        boxes: list[Box] = [
            (float(s.xyxy[0] + x0), float(s.xyxy[1] + y0), float(s.xyxy[2] + x0), float(s.xyxy[3] + y0)) for s in stains
        ]
        if not boxes or not all(canvas.free(b) for b in boxes):
            continue
        canvas.image[y0:y1, x0:x1] = stained
        return [
            canvas.add(Placed(class_id, b, "dirty_facade", {"stain": s.kind}), b)
            for b, s in zip(boxes, stains, strict=True)
        ]
    return []


def _covered(boxes: list[Box], window: tuple[int, int, int, int]) -> Array:
    """The pixels of `window` (x0, y0, x1, y1) that any of `boxes` covers, as a bool mask of the window."""
    x0, y0, x1, y1 = window
    mask = np.zeros((y1 - y0, x1 - x0), bool)
    for b in boxes:
        mask[
            max(0, round(b[1]) - y0) : max(0, round(b[3]) - y0), max(0, round(b[0]) - x0) : max(0, round(b[2]) - x0)
        ] = True
    return mask
