"""Illegal small ads (小广告 / 牛皮癣): flyers and stickers with Chinese text and phone numbers, on real walls.

A flyer is rendered large with a CJK font from the distribution (never downloaded), weathered (faded, soiled,
creased, torn), warped in perspective, scaled to between close-up and a few dozen pixels, relit and re-noised to
match the wall it lands on, and pasted in small overlapping clusters where the photo's own labels say there is
wall (not window, door or shop sign). Boxes are the visible part of each flyer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt
import yaml
from PIL import Image, ImageDraw, ImageFont

from datasets.synthetic.canvas import Paste, paste_all
from datasets.synthetic.surface import WallSurface

AD_TEXTS = Path(__file__).resolve().parents[1] / "config" / "ad_texts.yaml"
CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)

Array = npt.NDArray[Any]


@dataclass(frozen=True)
class AdTexts:
    """Phrases and paper/ink colours ads are drawn from (datasets/config/ad_texts.yaml)."""

    headlines: tuple[str, ...]
    details: tuple[str, ...]
    papers: tuple[tuple[tuple[int, int, int], tuple[int, int, int]], ...]

    @classmethod
    def load(cls, path: Path = AD_TEXTS) -> AdTexts:
        """Read and check the phrase file."""
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        papers = tuple((tuple(p), tuple(i)) for p, i in raw["papers"])
        if not raw["headlines"] or not papers:
            raise ValueError(f"{path}: needs at least one headline and one paper colour")
        return cls(tuple(raw["headlines"]), tuple(raw["details"]), papers)


def cjk_font() -> Path:
    """A CJK font installed from the distribution's packages; a clear error naming the package otherwise."""
    for candidate in CJK_FONTS:
        if Path(candidate).is_file():
            return Path(candidate)
    raise FileNotFoundError(
        "no CJK font found (looked for " + ", ".join(CJK_FONTS) + "); install the Debian package fonts-wqy-zenhei"
    )


def phone_number(rng: np.random.Generator) -> str:
    """A made-up 11-digit mobile number in the 1[3-9]x pattern, grouped as painted on ads."""
    digits = "1" + str(rng.integers(3, 10)) + "".join(str(d) for d in rng.integers(0, 10, 9))
    return f"{digits[:3]} {digits[3:7]} {digits[7:]}" if rng.random() < 0.5 else digits


Shrink = Literal["area", "bilinear"]
SHRINK_INTERPOLATION = {"area": cv2.INTER_AREA, "bilinear": cv2.INTER_LINEAR}


def render_flyer(
    rng: np.random.Generator, texts: AdTexts, font: Path, height: int, shrink: Shrink = "area"
) -> tuple[Array, list[str]]:
    """A BGRA flyer about `height` px tall (before perspective), and its text lines.

    It is drawn 3-9x large and shrunk at the end: `area` averages like a camera's optics and sensor; `bilinear`
    samples, which breaks thin strokes into jagged fragments (what builds up to base-v2 did, kept so that their
    configs still rebuild byte for byte).
    """
    scale = max(3, round(90 / height))  # render large, shrink at the end: text edges come out naturally soft
    h = height * scale
    w = round(h * rng.uniform(0.55, 1.5))
    paper, ink = texts.papers[rng.integers(len(texts.papers))]
    lines = [texts.headlines[rng.integers(len(texts.headlines))], phone_number(rng)]
    if rng.random() < 0.5 and texts.details:
        lines.insert(1, texts.details[rng.integers(len(texts.details))])
    canvas = Image.new("RGB", (w, h), tuple(reversed(paper)))
    draw = ImageDraw.Draw(canvas)
    _draw_lines(draw, lines, font, (w, h), tuple(reversed(ink)))
    if rng.random() < 0.3:
        inset = max(2, w // 25)
        draw.rectangle([inset, inset, w - inset, h - inset], outline=tuple(reversed(ink)), width=max(1, w // 60))
    bgr = np.asarray(canvas)[..., ::-1].astype(np.float32)
    alpha = np.full((h, w), 255.0, np.float32)
    bgr = _weather(rng, bgr, np.array(paper, np.float32))
    alpha = _tear(rng, alpha)
    flyer = _warp(rng, np.dstack([bgr, alpha]))
    size = (max(2, flyer.shape[1] // scale), max(2, flyer.shape[0] // scale))
    small = cv2.resize(flyer, size, interpolation=SHRINK_INTERPOLATION[shrink])
    return np.clip(small, 0, 255).astype(np.uint8), lines


def _draw_lines(draw: Any, lines: list[str], font: Path, size: tuple[int, int], ink: tuple[int, ...]) -> None:
    w, h = size
    weights = [1.6] + [0.8] * (len(lines) - 2) + [1.0]  # headline biggest, phone number clear, detail small
    unit = h * 0.8 / sum(weights)
    y = h * 0.1
    for line, weight in zip(lines, weights, strict=True):
        size_px = max(6, int(unit * weight * 0.85))
        face = ImageFont.truetype(str(font), size_px)
        while face.getlength(line) > w * 0.9 and size_px > 6:
            size_px = int(size_px * 0.9)
            face = ImageFont.truetype(str(font), size_px)
        x = (w - face.getlength(line)) / 2
        draw.text((x, y + (unit * weight - size_px) / 2), line, font=face, fill=ink, stroke_width=size_px // 25)
        y += unit * weight


def _weather(rng: np.random.Generator, bgr: Array, paper: Array) -> Array:
    h, w = bgr.shape[:2]
    fade = rng.uniform(0.0, 0.4)
    bgr = bgr * (1 - fade) + paper * fade  # sun-bleached ink
    grime = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), sigmaX=max(2.0, w / 12))
    grime = (grime - grime.min()) / max(float(np.ptp(grime)), 1e-6)
    bgr = bgr * (1 - rng.uniform(0.0, 0.35) * grime[..., None])  # soot and rain stains, low frequency
    for _ in range(rng.integers(0, 3)):  # creases: thin darker lines across the paper
        p1 = (int(rng.integers(0, w)), 0)
        p2 = (int(rng.integers(0, w)), h - 1)
        crease = np.zeros((h, w), np.float32)
        cv2.line(crease, p1, p2, 1.0, max(1, w // 80))
        bgr = bgr * (1 - 0.18 * cv2.GaussianBlur(crease, (0, 0), 1.5)[..., None])
    return bgr


def _tear(rng: np.random.Generator, alpha: Array) -> Array:
    if rng.random() > 0.5:
        return alpha
    h, w = alpha.shape
    corner = np.array([[0, 0], [w, 0], [w, h], [0, h]][rng.integers(4)], np.float32)
    centre = np.array([w / 2, h / 2], np.float32)
    points = [corner.astype(np.float64)]
    for _ in range(6):  # a ragged bite taken out of one corner
        points.append(corner + (centre - corner) * rng.uniform(0.1, 0.55) + rng.normal(0, w * 0.04, 2))
    cv2.fillPoly(alpha, [np.array(points, np.int32)], 0.0)
    return alpha


def _warp(rng: np.random.Generator, bgra: Array) -> Array:
    h, w = bgra.shape[:2]
    source = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    angle = np.deg2rad(rng.normal(0, 6))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], np.float32)
    target = (source - [w / 2, h / 2]) @ rotation.T + rng.normal(0, 0.04, (4, 2)).astype(np.float32) * [w, h]
    target -= target.min(axis=0)
    size = np.ceil(target.max(axis=0)).astype(int) + 1
    matrix = cv2.getPerspectiveTransform(source, target.astype(np.float32))
    return cv2.warpPerspective(bgra, matrix, (int(size[0]), int(size[1])), flags=cv2.INTER_LINEAR, borderValue=0)


@dataclass(frozen=True)
class AdPlacement:
    """One flyer as placed: its visible box in pixels, how much of it shows, and its text."""

    xyxy: tuple[int, int, int, int]
    visible: float
    lines: tuple[str, ...]


def compose_ads(
    rng: np.random.Generator,
    background: Array,
    surface: WallSurface,
    texts: AdTexts,
    font: Path,
    shrink: Shrink = "area",
) -> tuple[Array, list[AdPlacement]]:
    """Paste 1-3 clusters of 1-4 flyers onto `background` inside `surface`."""
    h = background.shape[0]
    pastes: list[Paste] = []
    lines_of: list[list[str]] = []
    for _ in range(rng.integers(1, 4)):
        height = int(np.clip(h * rng.uniform(0.025, 0.12), 14, h / 4))
        centre = surface.free_point(rng, height)
        if centre is None:
            continue
        for _ in range(rng.choice([1, 1, 2, 3, 4])):
            flyer, lines = render_flyer(rng, texts, font, max(12, int(height * rng.uniform(0.7, 1.3))), shrink)
            offset = rng.normal(0, 0.6, 2) * flyer.shape[:2][::-1]
            x = int(centre[0] + offset[0] - flyer.shape[1] / 2)
            y = int(centre[1] + offset[1] - flyer.shape[0] / 2)
            pastes.append(Paste(flyer, x, y))
            lines_of.append(lines)
    composed, visible = paste_all(rng, background, pastes, max_hidden=0.4, forbidden=surface.forbidden)
    placements = [
        AdPlacement(box, share, tuple(lines_of[i])) for i, (box, share) in enumerate(visible) if box is not None
    ]
    return composed, placements
