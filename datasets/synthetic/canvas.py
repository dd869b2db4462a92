"""Pasting rendered objects (BGRA) onto real photos so they sit in the scene: relit, re-noised, softened."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]


@dataclass(frozen=True)
class Paste:
    """A BGRA object and where its top-left corner goes in the photo."""

    bgra: Array
    x: int
    y: int


def paste_all(
    rng: np.random.Generator,
    background: Array,
    pastes: list[Paste],
    max_hidden: float = 0.4,
    forbidden: Array | None = None,
) -> tuple[Array, list[tuple[tuple[int, int, int, int] | None, float]]]:
    """Composite `pastes` in order; per paste its visible box (None if skipped) and the visible share.

    A paste is skipped when less than 70% of it lies inside the photo, when more than 10% of it would cover
    `forbidden` pixels (bool H x W), or when it would hide more than `max_hidden` of an object pasted before it:
    every kept object stays recognisable and in a plausible place, so every one is labelled.
    """
    image = background.astype(np.float32)
    h, w = image.shape[:2]
    masks: list[Array | None] = []
    for paste in pastes:
        mask = _footprint(paste, (h, w))
        inside = mask.sum() / max(1.0, float((paste.bgra[..., 3] > 127).sum()))
        hides_too_much = any(
            earlier is not None and (earlier & mask).sum() > max_hidden * earlier.sum() for earlier in masks
        )
        on_forbidden = forbidden is not None and (forbidden & mask).sum() > 0.1 * mask.sum()
        if inside < 0.7 or hides_too_much or on_forbidden or not mask.any():
            masks.append(None)
            continue
        image = _blend(rng, image, paste)
        masks = [None if m is None else m & ~mask for m in masks]
        masks.append(mask)
    results: list[tuple[tuple[int, int, int, int] | None, float]] = []
    for paste, visible in zip(pastes, masks, strict=True):
        if visible is None or not visible.any():
            results.append((None, 0.0))
            continue
        ys, xs = np.nonzero(visible)
        total = max(1.0, float((paste.bgra[..., 3] > 127).sum()))
        results.append(((int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1), visible.sum() / total))
    return np.clip(image, 0, 255).astype(np.uint8), results


def _footprint(paste: Paste, shape: tuple[int, int]) -> Array:
    h, w = shape
    mask = np.zeros((h, w), bool)
    ph, pw = paste.bgra.shape[:2]
    x0, y0, x1, y1 = max(0, paste.x), max(0, paste.y), min(w, paste.x + pw), min(h, paste.y + ph)
    if x1 > x0 and y1 > y0:
        mask[y0:y1, x0:x1] = paste.bgra[y0 - paste.y : y1 - paste.y, x0 - paste.x : x1 - paste.x, 3] > 127
    return mask


def _blend(rng: np.random.Generator, image: Array, paste: Paste) -> Array:
    h, w = image.shape[:2]
    ph, pw = paste.bgra.shape[:2]
    x0, y0, x1, y1 = max(0, paste.x), max(0, paste.y), min(w, paste.x + pw), min(h, paste.y + ph)
    obj = paste.bgra[y0 - paste.y : y1 - paste.y, x0 - paste.x : x1 - paste.x].astype(np.float32)
    region = image[y0:y1, x0:x1]
    luma = float(region.mean())
    # Relight: the paper takes the wall's brightness and colour cast (shade, dusk, a warm street lamp).
    gain = np.clip(luma / 185.0, 0.35, 1.05)
    cast = np.clip((region.reshape(-1, 3).mean(axis=0) + 1) / (luma + 1), 0.85, 1.15) ** 0.5
    colour = obj[..., :3] * gain * cast
    sigma = rng.uniform(0.0, 0.8)
    if sigma > 0.3:
        colour = cv2.GaussianBlur(colour, (0, 0), sigma)
    # Re-noise with the photo's own grain, so the paste is not cleaner than its surroundings.
    grain = float(np.std(region - cv2.GaussianBlur(region, (0, 0), 1.5)))
    colour = colour + rng.normal(0, max(0.5, grain * 0.8), colour.shape)
    alpha = cv2.GaussianBlur(obj[..., 3] / 255.0, (0, 0), 0.6)[..., None]
    image[y0:y1, x0:x1] = region * (1 - alpha) + colour * alpha
    return image
