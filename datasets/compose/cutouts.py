"""Real objects cut out of labelled photos and pasted into a frame so that they sit in it.

A labelled box is rectangular; the object in it is not. So a cut-out takes a small margin of the donor photo
around the box and a feathered mask: opaque over the rounded core of the box, fading out towards its corners and
over the margin, so no rectangle of another street shows. Pasted, it is reduced like a camera would (area
averaging), relit halfway to the frame around it (brightness, colour cast, contrast), softened until it is no
sharper than the frame's sharpest detail, and given the frame's grain. Its label is the box of what shows of it:
where the mask is at least half opaque (about the donor's box, moved and scaled with it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from datasets.compose.geometry import Box, clip
from datasets.importers import Example
from vision.image_headers import peek_size

Array = npt.NDArray[Any]

MARGIN = 0.1  # of the box's side, taken around it on every side: where the mask fades out
ROUNDNESS = 2.5  # exponent of the rounded shape the mask follows: 2 an ellipse, large a rectangle
# The mask is opaque inside FADE[0] of the rounded shape's radius and transparent beyond FADE[1]: the pile's
# middle is pasted whole, the donor's ground in the box's corners hardly at all (alpha 0.5 at ~0.98 of the box).
FADE = (0.8, 1.15)
CORE = 0.6  # inside this share of the radius the object is pasted whole, whatever its colour
GROUND_DISTANCE = (10.0, 30.0)  # CIELAB distance from the donor's ground colour: fully ground, fully object
MAX_UPSCALE = 1.5  # a donor box is not enlarged more than this: it would look soft
SHARPNESS_BLOCK = 32  # px: blocks the frame's sharpness is measured in
SHARPEST = 98  # percentile of the frame's blocks whose detail a cut-out may match (its sharpest textures)
BLURS = (0.4, 0.7, 1.0)  # Gaussian sigmas tried, mildest first, to bring a cut-out to the frame's sharpness


@dataclass(frozen=True)
class Donor:
    """A labelled box of a donor photo that may be cut out: the photo, the box (pixel xyxy), its class."""

    example: Example
    box: Box
    class_id: int

    @property
    def aspect(self) -> float:
        """The object's width / height."""
        return (self.box[2] - self.box[0]) / (self.box[3] - self.box[1])


def find_donors(examples: list[Example], class_id: int, min_side_px: int, max_image_share: float) -> list[Donor]:
    """Boxes of `class_id` in `examples` with sides of at least `min_side_px` covering at most `max_image_share`."""
    donors = []
    for example in examples:
        boxes = example.labels.boxes[example.labels.class_ids == class_id]
        if not len(boxes):
            continue
        size = peek_size(example.image.read_bytes())
        if size is None:
            raise ValueError(f"{example.image}: cannot read the image's size from its header")
        width, height = size
        for cx, cy, w, h in boxes:
            if min(w * width, h * height) >= min_side_px and w * h <= max_image_share:
                x0, y0 = (cx - w / 2) * width, (cy - h / 2) * height
                box = (float(x0), float(y0), float(x0 + w * width), float(y0 + h * height))
                donors.append(Donor(example, box, class_id))
    return donors


@dataclass(frozen=True)
class Cutout:
    """An object with a margin of its surroundings: BGR pixels (float32), a feathered alpha in [0, 1], its box."""

    bgr: Array
    alpha: Array
    box: Box


def cut_out(image: Array, box: Box) -> Cutout:
    """The object in pixel `box` of `image`, with `MARGIN` of its surroundings and a feathered mask."""
    h, w = image.shape[:2]
    bw, bh = box[2] - box[0], box[3] - box[1]
    x0, y0 = max(0, int(np.floor(box[0] - MARGIN * bw))), max(0, int(np.floor(box[1] - MARGIN * bh)))
    x1, y1 = min(w, int(np.ceil(box[2] + MARGIN * bw))), min(h, int(np.ceil(box[3] + MARGIN * bh)))
    inner = (box[0] - x0, box[1] - y0, box[2] - x0, box[3] - y0)
    crop = image[y0:y1, x0:x1]
    return Cutout(crop.astype(np.float32), feather(crop, inner), inner)


def feather(crop: Array, box: Box) -> Array:
    """A mask opaque over the core of `box`'s rounded inscribed shape, fading out towards the box's corners and
    edges and over the margin, and at the crop's border where the donor photo ended before the margin did.

    Between the core and the edge, pixels of the donor's ground colour (the median colour outside the rounded
    shape) fade out too, so the pile keeps its own outline rather than a disc of another street's pavement.
    """
    h, w = crop.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
    half_w, half_h = max(0.5, (box[2] - box[0]) / 2), max(0.5, (box[3] - box[1]) / 2)
    u = np.abs(xx - (box[0] + box[2]) / 2) / half_w
    v = np.abs(yy - (box[1] + box[3]) / 2) / half_h
    radius = (u**ROUNDNESS + v**ROUNDNESS) ** (1 / ROUNDNESS)
    fade = np.clip((FADE[1] - radius) / (FADE[1] - FADE[0]), 0.0, 1.0)
    ramp = max(2.0, MARGIN * min(half_w, half_h))
    border = np.minimum(np.minimum(xx, w - xx), np.minimum(yy, h - yy)) / ramp
    fade = np.minimum(fade, np.clip(border, 0.0, 1.0))
    fade = fade * (1.0 - np.clip((radius - CORE) / (1.0 - CORE), 0.0, 1.0) * (1.0 - _unlike_ground(crop, radius)))
    return np.asarray(fade * fade * (3 - 2 * fade), np.float32)


def _unlike_ground(crop: Array, radius: Array) -> Array:
    """Per pixel, 0 where it has the colour of the donor's ground around the object, rising to 1 where it differs."""
    lab = cv2.cvtColor(cv2.GaussianBlur(crop, (0, 0), 1.0), cv2.COLOR_BGR2LAB).astype(np.float32)
    outside = lab[radius > 1.0]
    if len(outside) < 16:
        return np.ones(radius.shape, np.float32)
    distance = np.linalg.norm(lab - np.median(outside, axis=0), axis=2)
    return np.asarray(
        np.clip((distance - GROUND_DISTANCE[0]) / (GROUND_DISTANCE[1] - GROUND_DISTANCE[0]), 0, 1)
    )  # smoothstep: no visible edge where it starts


def frame_sharpness(image: Array) -> float:
    """How sharp the frame's sharpest detail is: a high percentile of its blocks' Laplacian deviation."""
    grey = cv2.cvtColor(np.clip(image, 0, 255).astype(np.uint8), cv2.COLOR_BGR2GRAY).astype(np.float32)
    laplacian = cv2.Laplacian(grey, cv2.CV_32F)
    h, w = grey.shape
    n = SHARPNESS_BLOCK
    blocks = laplacian[: h - h % n, : w - w % n].reshape(h // n, n, w // n, n).std(axis=(1, 3))
    return float(np.percentile(blocks, SHARPEST)) if blocks.size else float(laplacian.std())


def paste_cutout(rng: np.random.Generator, image: Array, cutout: Cutout, target: Box, sharpness: float) -> Box:
    """Paste `cutout` so that its object fills `target` (pixels of float32 `image`, changed in place).

    Returns the box of what shows of it (mask at least half opaque) in the frame: its label.
    """
    h, w = image.shape[:2]
    scale = (target[3] - target[1]) / (cutout.box[3] - cutout.box[1])
    ch, cw = cutout.bgr.shape[:2]
    size = (max(1, round(cw * scale)), max(1, round(ch * scale)))
    shrink = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    colour = cv2.resize(cutout.bgr, size, interpolation=shrink)
    alpha = cv2.resize(cutout.alpha, size, interpolation=shrink)
    x, y = round(target[0] - cutout.box[0] * scale), round(target[1] - cutout.box[1] * scale)
    x0, y0, x1, y1 = max(0, x), max(0, y), min(w, x + size[0]), min(h, y + size[1])
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"target {target} lies outside the {w}x{h} frame")
    colour = colour[y0 - y : y1 - y, x0 - x : x1 - x]
    alpha = alpha[y0 - y : y1 - y, x0 - x : x1 - x, None]
    region = image[y0:y1, x0:x1]
    colour = _relight(colour, alpha[..., 0], region)
    colour = _soften(colour, sharpness)
    detail = region - cv2.GaussianBlur(region, (0, 0), 1.0)
    noise = float(np.clip(1.4826 * np.median(np.abs(detail - np.median(detail))), 0.5, 5.0))
    colour = colour + rng.normal(0, noise, colour.shape).astype(np.float32)
    image[y0:y1, x0:x1] = region * (1 - alpha) + colour * alpha
    ys, xs = np.nonzero(alpha[..., 0] >= 0.5)
    if not len(xs):
        return clip(target, w, h)
    return (float(x0 + xs.min()), float(y0 + ys.min()), float(x0 + xs.max() + 1), float(y0 + ys.max() + 1))


def _relight(colour: Array, alpha: Array, region: Array) -> Array:
    """Pull the object's brightness, colour cast and contrast halfway to the frame around it (as stalls are)."""
    solid = alpha > 0.5
    if solid.sum() < 4:
        return colour
    obj = colour[solid]
    around = region.reshape(-1, 3)
    gain = np.clip((around.mean() + 1) / (obj.mean() + 1), 0.5, 2.0) ** 0.5
    cast_obj = (obj.mean(axis=0) + 1) / (obj.mean() + 1)
    cast_bg = (around.mean(axis=0) + 1) / (around.mean() + 1)
    cast = np.clip(cast_bg / cast_obj, 0.8, 1.25) ** 0.5
    contrast = np.clip((around.std() + 1) / (obj.std() + 1), 0.6, 1.2) ** 0.5
    mean = obj.mean(axis=0)
    relit = (mean + (colour - mean) * contrast) * gain * cast
    return np.asarray(relit, np.float32)


def _soften(colour: Array, sharpness: float) -> Array:
    """The object blurred by the mildest of `BLURS` that makes it no sharper than the frame (as is if it is not)."""
    if min(colour.shape[:2]) < 4:
        return colour
    for sigma in (0.0, *BLURS):
        soft = colour if sigma == 0 else cv2.GaussianBlur(colour, (0, 0), sigma)
        grey = cv2.cvtColor(np.clip(soft, 0, 255).astype(np.uint8), cv2.COLOR_BGR2GRAY).astype(np.float32)
        if float(cv2.Laplacian(grey, cv2.CV_32F)[1:-1, 1:-1].std()) <= sharpness:
            return np.asarray(soft, np.float32)
    return np.asarray(soft, np.float32)
