"""Dirty facades (不洁立面): rain streaks under sills, soot and mould patches, graffiti tags, on real walls.

Stains are applied multiplicatively to the photo so the wall's own texture, joints and lighting show through
(nothing is pasted as a rectangle); graffiti paint is modulated by the wall texture and its lighting. The box of a
stain is the region where it visibly darkens or covers the wall.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from datasets.synthetic.surface import WallSurface

Array = npt.NDArray[Any]

# Spray-paint colours (BGR) seen in tags: black, white, red, blue, green, silver, pink.
SPRAY = ((25, 25, 25), (235, 235, 235), (40, 40, 200), (170, 80, 30), (60, 150, 40), (180, 180, 180), (170, 90, 230))
# A stain is labelled where it changes the wall's brightness by at least this much (what a reviewer still sees
# at a glance), and only if that covers enough pixels; otherwise it is not applied at all.
MIN_CHANGE = 0.12
MIN_PIXELS = 60


@dataclass(frozen=True)
class Stain:
    """One stain as placed: kind, visible box in pixels."""

    kind: str
    xyxy: tuple[int, int, int, int]


MIN_SIDE = 12  # px: a stain's visible box narrower or lower than this is not a dirty facade anyone would report


def compose_grime(
    rng: np.random.Generator, background: Array, surface: WallSurface, windows: Array
) -> tuple[Array, list[Stain]]:
    """Apply 1-3 stains: streaks under some of `windows` (pixel xyxy), patches and tags on free wall."""
    image = background.astype(np.float32)
    stains: list[Stain] = []
    for _ in range(rng.integers(1, 4)):
        kind = rng.choice(["streaks", "patch", "tag"], p=[0.5, 0.25, 0.25] if len(windows) else [0.0, 0.55, 0.45])
        mask = {"streaks": _streaks, "patch": _patch, "tag": _tag}[str(kind)](rng, surface, windows)
        if mask is None:
            continue
        stained = _apply(rng, image, mask, str(kind))
        box = _visible_box(image, stained)
        if box is None or min(box[2] - box[0], box[3] - box[1]) < MIN_SIDE:
            continue  # too faint or too thin to see: neither applied nor labelled, no label sits on clean wall
        image = stained
        stains.append(Stain(str(kind), box))
    return np.clip(image, 0, 255).astype(np.uint8), stains


def _streaks(rng: np.random.Generator, surface: WallSurface, windows: Array) -> Array | None:
    if not len(windows):
        return None
    h, w = surface.forbidden.shape
    upper = windows[windows[:, 3] < surface.top]  # rain runs down from the sills of the upper floors
    if not len(upper):
        return None
    x0, y0, x1, y1 = upper[rng.integers(len(upper))]
    length = (y1 - y0) * rng.uniform(0.8, 2.5)
    top = int(y1 + (y1 - y0) * 0.08) + 2  # below the window's own margin in `forbidden` (the sill)
    bottom = int(min(h - 1, y1 + length))
    if bottom - top < 8 or x1 - x0 < 6:
        return None
    mask = np.zeros((h, w), np.float32)
    rows = np.arange(top, bottom)
    # A faint curtain under the whole sill, fading down...
    band = np.clip(1.0 - (rows - top) / max(1.0, (bottom - top) * rng.uniform(0.3, 0.7)), 0, 1) * 0.35
    mask[top:bottom, max(0, int(x0)) : int(x1)] = band[:, None]
    # ...and darker runs that meander, thin out and stop at different heights, as water finds its way down.
    for _ in range(rng.integers(4, 12)):
        x = rng.uniform(x0, x1)
        width = (x1 - x0) * rng.uniform(0.01, 0.05)
        end = int(top + (bottom - top) * rng.uniform(0.3, 1.0))
        drift = np.cumsum(rng.normal(0, 0.35, end - top))
        for row, dx in zip(range(top, end), drift, strict=True):
            fade = 1.0 - 0.85 * (row - top) / max(1, end - top)
            half = max(0.5, width * (0.6 + 0.4 * fade) / 2)
            lo, hi = int(x + dx - half), int(x + dx + half) + 1
            mask[row, max(0, lo) : max(0, hi)] = np.maximum(mask[row, max(0, lo) : max(0, hi)], fade)
    mask = np.asarray(
        cv2.GaussianBlur(mask, (0, 0), sigmaX=max(1.0, (x1 - x0) * 0.01), sigmaY=max(2.0, (bottom - top) * 0.05)),
        np.float32,
    )
    mask[:top] = 0.0  # the blur must not smear water up over the sill
    mask /= max(float(mask.max()), 1e-6)
    # A run ends where it meets a window, sign or door below (it drips off the frame): once a column reaches a
    # forbidden pixel, nothing below it is stained, so no streak is drawn or labelled across a shop sign.
    blocked = np.cumsum(surface.forbidden[top:], axis=0) > 0
    mask[top:][blocked] = 0.0
    if (mask > 0.3).any(axis=1).sum() < 0.5 * (y1 - y0):  # cut short by a cornice or sign: a strip, not streaks
        return None
    return mask


def _patch(rng: np.random.Generator, surface: WallSurface, windows: Array) -> Array | None:
    h, w = surface.forbidden.shape
    size = int(h * rng.uniform(0.06, 0.2))
    centre = surface.free_point(rng, size // 2)
    if centre is None:
        return None
    # Two octaves: the blob's outline, and the blotchy grain inside it (soot and mould are not smooth clouds).
    coarse = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), max(2.0, size / 6))
    fine = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), max(1.0, size / 30))
    noise = _normalized(coarse) + 0.6 * _normalized(fine)
    yy, xx = np.mgrid[0:h, 0:w]
    ellipse = ((xx - centre[0]) / (size * rng.uniform(0.7, 1.6))) ** 2 + ((yy - centre[1]) / size) ** 2
    blob = np.clip(1.0 - ellipse, 0, 1) * noise / 1.6
    patch = np.clip((blob - 0.2) * 4.0, 0, 1)
    # Soot and mould drip: a few runs down from the patch's lower edge, thinning out, so it is not a floating cloud.
    ys, xs = np.nonzero(patch > 0.5)
    if len(xs):
        for _ in range(rng.integers(2, 7)):
            i = rng.integers(len(xs))
            x, y = float(xs[i]), int(ys[i])
            length = int(size * rng.uniform(0.3, 1.2))
            for row in range(y, min(h, y + length)):
                fade = 1.0 - (row - y) / length
                x += rng.normal(0, 0.3)
                half = max(0.5, size * 0.02 * fade)
                lo, hi = max(0, int(x - half)), max(0, int(x + half) + 1)
                patch[row, lo:hi] = np.maximum(patch[row, lo:hi], 0.7 * fade)
        patch = cv2.GaussianBlur(patch, (0, 0), 0.8)
    # and its own grain: fine speckle modulates the darkening
    speckle = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 1.2)
    patch = patch * (0.8 + 0.4 * _normalized(speckle))
    return np.asarray(np.clip(patch, 0, 1) * ~surface.forbidden)


def _normalized(field: Array) -> Array:
    return np.asarray((field - field.min()) / max(float(np.ptp(field)), 1e-6))


def _tag(rng: np.random.Generator, surface: WallSurface, windows: Array) -> Array | None:
    h, w = surface.forbidden.shape
    size = int(h * rng.uniform(0.05, 0.14))
    centre = surface.free_point(rng, size)
    if centre is None:
        return None
    mask = np.zeros((h, w), np.float32)
    thickness = max(1, size // 12)
    for _ in range(rng.integers(2, 6)):  # a tag: a few fast looping strokes
        control = np.array(centre) + rng.normal(0, size * 0.45, (5, 2))
        curve = _bezier(control, np.linspace(0, 1, 40))
        cv2.polylines(mask, [curve.astype(np.int32)], False, 1.0, thickness, cv2.LINE_AA)
    return cv2.GaussianBlur(mask, (0, 0), 0.8) * ~surface.forbidden


def _bezier(control: Array, t: Array) -> Array:
    """Points of the Bézier curve with `control` points (k, 2) at parameters `t` (n,), by de Casteljau."""
    points = np.repeat(control[None], len(t), axis=0)
    weights = t.reshape(-1, 1, 1)
    while points.shape[1] > 1:
        points = points[:, :-1] * (1 - weights) + points[:, 1:] * weights
    return points[:, 0]


def _apply(rng: np.random.Generator, image: Array, mask: Array, kind: str) -> Array:
    if kind == "tag":
        paint = np.array(SPRAY[rng.integers(len(SPRAY))], np.float32)
        local = cv2.GaussianBlur(image, (0, 0), 6)
        texture = np.clip(image / np.maximum(local, 1.0), 0.6, 1.4)  # wall joints and grain show through paint
        lit = paint * np.clip(local.mean(axis=2, keepdims=True) / 170.0, 0.35, 1.1) * texture
        alpha = (mask * rng.uniform(0.75, 0.95))[..., None]
        return np.asarray(image * (1 - alpha) + lit * alpha)
    # soot is grey-black, mould green-black, rain streaks brown-grey: darken channels unevenly
    tint = {"streaks": (0.9, 1.0, 1.05), "patch": rng.choice([(1.0, 1.0, 1.0), (1.05, 0.85, 1.05)])}[kind]
    strength = rng.uniform(0.35, 0.65)
    factor = 1 - strength * mask[..., None] * np.array(tint, np.float32)
    return image * np.clip(factor, 0.2, 1.0)


def _visible_box(before: Array, after: Array) -> tuple[int, int, int, int] | None:
    """Box of the pixels the stain visibly changed (by at least MIN_CHANGE of their brightness); None if few."""
    luma_before = before.mean(axis=2)
    change = np.abs(after.mean(axis=2) - luma_before) / np.maximum(luma_before, 16.0)
    visible = cv2.morphologyEx((change >= MIN_CHANGE).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    ys, xs = np.nonzero(visible)
    if len(xs) < MIN_PIXELS:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
