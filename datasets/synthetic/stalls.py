"""Street stalls (占道经营, 夜市摊点) composed onto real street photos from a library of 3D renders.

The stalls are rendered by Blender (`stall_scene.py`, in its own interpreter) once per library spec and cached;
a build then stands them on the ground of real photos. The ground and its scale come from things the source
labels that stand on the ground with a known height (bins, doors: `ground_heights_m` in the source config):

- a reference of pixel height h whose bottom is at row y_b, of real height H metres, seen by a camera c metres up
  (c drawn from 1.3-2.2 m: a patrol car's roof or a pedestrian), puts the horizon at y_h = y_b - c h / H;
- the ground row y of a stall's foot then has h / H (y - y_h) / (y_b - y_h) pixels per metre, and the camera sees
  the foot at an angle atan((y - y_h) / f) below the horizon, f the focal length in pixels (a phone's ~65 deg);
- among a few random sprites, the one rendered from the elevation closest to that is scaled to the row's pixels
  per metre and composited with its ground shadow, relit to the photo and given its grain.

A stall is not placed where it would cover a labelled event or anything the COCO model finds (people, cars,
bikes): the renders cannot be occluded by those, and a hidden bin would leave a wrong label.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from datasets.synthetic.ads import cjk_font

Array = npt.NDArray[Any]
logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
SCENE_SCRIPT = Path(__file__).with_name("stall_scene.py")
RENDER_PYTHON_ENV = "STREETWATCH_RENDER_PYTHON"
# What food carts have lettered on their sign boards.
SIGN_TEXTS = (
    "烧烤", "煎饼果子", "臭豆腐", "奶茶", "炒粉", "凉皮", "麻辣烫", "手抓饼", "烤红薯", "水果", "小吃", "烤冷面",
)  # fmt: skip
CHUNK = 20  # sprites per renderer process: progress is logged per chunk
MAX_REFERENCE_SHARE = 0.4
MAX_UPSCALE = 2.0  # renders are not enlarged more than this (they would look soft)
FOCAL_PER_SIDE = 0.78  # focal length / image long side of a phone or dash camera (~65 deg field of view)


class RenderUnavailable(RuntimeError):
    """The Blender interpreter is not installed."""


@dataclass(frozen=True)
class LibrarySpec:
    """How many stalls to render, from which seed, at what size and quality."""

    count: int = 160
    seed: int = 0
    size: int = 320
    samples: int = 16

    def fingerprint(self) -> str:
        """Changes whenever the renders would: the scene script, this spec, the sign texts."""
        digest = hashlib.sha256(SCENE_SCRIPT.read_bytes())
        digest.update(json.dumps([self.count, self.seed, self.size, self.samples, SIGN_TEXTS]).encode())
        return digest.hexdigest()[:16]


def render_cache() -> Path:
    """Where rendered libraries are kept between builds: $STREETWATCH_CACHE_DIR/renders (~/.cache/streetwatch)."""
    root = Path(os.environ.get("STREETWATCH_CACHE_DIR") or Path.home() / ".cache" / "streetwatch")
    return root / "renders"


def render_python() -> Path:
    """The interpreter that has `bpy`: $STREETWATCH_RENDER_PYTHON, else the repo's `.venv-render`."""
    return Path(os.environ.get(RENDER_PYTHON_ENV) or REPO_ROOT / ".venv-render" / "bin" / "python")


def render_library(spec: LibrarySpec, cache: Path, python: Path | None = None) -> Path:
    """The folder of rendered sprites for `spec` under `cache/stalls/`, rendering it first if it is not there."""
    folder = cache / "stalls" / spec.fingerprint()
    if (folder / "complete.json").exists():
        return folder
    python = python or render_python()
    if not python.exists():
        raise RenderUnavailable(
            f"street stalls are rendered with Blender, and {python} does not exist: run `bash scripts/setup.sh render`"
            f" (or point ${RENDER_PYTHON_ENV} at a Python that has bpy)"
        )
    partial = folder.with_name(folder.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    for first in range(0, spec.count, CHUNK):
        job: dict[str, Any] = {
            "out": str(partial),
            "seed": spec.seed,
            "first": first,
            "count": min(CHUNK, spec.count - first),
            "size": spec.size,
            "samples": spec.samples,
            "font": str(cjk_font()),
            "texts": list(SIGN_TEXTS),
        }
        (partial / "job.json").write_text(json.dumps(job, ensure_ascii=False), encoding="utf-8")
        done = subprocess.run(
            [str(python), str(SCENE_SCRIPT), str(partial / "job.json")], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"the stall renderer failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
        logger.info("rendered %d/%d street stalls", first + job["count"], spec.count)
    (partial / "job.json").unlink()
    (partial / "complete.json").write_text(json.dumps(spec.__dict__) + "\n")
    partial.rename(folder)
    return folder


@dataclass(frozen=True)
class Sprite:
    """A rendered stall cropped to its pixels and shadow: BGRA, the stall's box, its foot point, its scale."""

    bgra: Array
    box: tuple[float, float, float, float]
    foot: tuple[float, float]
    px_per_m: float
    elevation: float
    record: dict[str, Any]

    def flipped(self) -> Sprite:
        w = self.bgra.shape[1]
        x0, y0, x1, y1 = self.box
        return Sprite(
            self.bgra[:, ::-1].copy(), (w - x1, y0, w - x0, y1), (w - self.foot[0], self.foot[1]),
            self.px_per_m, self.elevation, self.record,
        )  # fmt: skip


def load_library(folder: Path) -> list[Sprite]:
    """Every sprite of a rendered library, cropped to what it shows (stall and shadow)."""
    sprites = []
    for path in sorted(folder.glob("stall-*.png")):
        record = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        bgra = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if bgra is None or bgra.ndim != 3 or bgra.shape[2] != 4:
            raise ValueError(f"{path} is not an RGBA render")
        _fade_cut_shadow(bgra)
        ys, xs = np.nonzero(bgra[..., 3] > 8)
        if not len(xs):
            continue
        x0, y0, x1, y1 = record["box"]
        cx0, cy0 = int(min(xs.min(), x0)), int(min(ys.min(), y0))
        cx1, cy1 = int(max(xs.max() + 1, np.ceil(x1))), int(max(ys.max() + 1, np.ceil(y1)))
        sprites.append(
            Sprite(
                bgra[cy0:cy1, cx0:cx1].copy(),
                (x0 - cx0, y0 - cy0, x1 - cx0, y1 - cy0),
                (record["foot"][0] - cx0, record["foot"][1] - cy0),
                float(record["px_per_m"]),
                float(record["elevation"]),
                record,
            )
        )
    if not sprites:
        raise ValueError(f"no stall renders in {folder}")
    return sprites


def _fade_cut_shadow(bgra: Array, width: int = 16) -> None:
    """A long shadow can run out of the render's frame; fade it out towards the frame's edges (in place), so that
    it does not end in a straight line on the photo. The stall itself (opaque) is left as it is."""
    h, w = bgra.shape[:2]
    ramp_y = np.clip(np.minimum(np.arange(h), np.arange(h)[::-1]) / width, 0, 1)
    ramp_x = np.clip(np.minimum(np.arange(w), np.arange(w)[::-1]) / width, 0, 1)
    fade = np.minimum(ramp_y[:, None], ramp_x[None, :])
    shadow = bgra[..., 3] < 250
    bgra[..., 3] = np.where(shadow, bgra[..., 3] * fade, bgra[..., 3]).astype(np.uint8)


@dataclass(frozen=True)
class GroundReference:
    """A labelled thing standing on the ground: its pixel box and real height."""

    xyxy: tuple[float, float, float, float]
    height_m: float


@dataclass(frozen=True)
class StallPlacement:
    """What was placed where: the stall's visible box, the render it came from and the geometry used."""

    xyxy: tuple[int, int, int, int]
    sprite: int
    kind: str
    parts: list[str]
    flipped: bool
    foot: tuple[int, int]
    px_per_m: float
    horizon_y: float
    camera_height_m: float
    reference: tuple[float, float, float, float]


def compose_stalls(
    rng: np.random.Generator,
    image: Array,
    references: list[GroundReference],
    keep_visible: Array,
    sprites: list[Sprite],
    max_stalls: int = 2,
) -> tuple[Array, list[StallPlacement]]:
    """Stand up to `max_stalls` rendered stalls on the ground of `image`; none if it has no ground reference.

    `keep_visible` (N x 4 pixel xyxy): labelled events and detected people/cars a stall may not cover; it does
    not cover the references either (it would stand inside a bin).
    """
    placed: list[StallPlacement] = []
    h, w = image.shape[:2]
    blockers = [tuple(map(float, b)) for b in keep_visible.reshape(-1, 4)] + [r.xyxy for r in references]
    # A reference taller than 40% of the photo is a close-up (often shot from above): no street scale there.
    references = [r for r in references if r.xyxy[3] - r.xyxy[1] < MAX_REFERENCE_SHARE * h]
    if not references:
        return image, placed
    out = image.astype(np.float32)
    focal = FOCAL_PER_SIDE * max(h, w)
    wanted = int(rng.integers(1, max_stalls + 1))
    for _ in range(12 * wanted):
        if len(placed) == wanted:
            break
        ref = references[int(rng.integers(len(references)))]
        ry0, ry1 = ref.xyxy[1], ref.xyxy[3]
        ref_ppm = (ry1 - ry0) / ref.height_m
        camera_h = float(rng.uniform(1.3, 2.2))
        horizon = ry1 - camera_h * ref_ppm
        span = ry1 - horizon
        foot_y = float(rng.uniform(ry1 + 0.02 * span, min(h * 1.02, ry1 + 1.2 * span)))  # level with or before it
        ppm = ref_ppm * (foot_y - horizon) / span
        elevation = float(np.degrees(np.arctan((foot_y - horizon) / focal)))
        candidates = rng.choice(len(sprites), size=min(12, len(sprites)), replace=False)
        index = int(min(candidates, key=lambda i: abs(sprites[i].elevation - elevation)))
        flip = bool(rng.random() < 0.5)
        sprite = sprites[index].flipped() if flip else sprites[index]
        scale = ppm / sprite.px_per_m
        if not 0.05 < scale < MAX_UPSCALE:
            continue
        foot_x = float(rng.uniform(0.08 * w, 0.92 * w))
        ox, oy = foot_x - sprite.foot[0] * scale, foot_y - sprite.foot[1] * scale
        bx0, by0, bx1, by1 = (ox + sprite.box[0] * scale, oy + sprite.box[1] * scale,
                              ox + sprite.box[2] * scale, oy + sprite.box[3] * scale)  # fmt: skip
        box = (max(0.0, bx0), max(0.0, by0), min(float(w), bx1), min(float(h), by1))
        full = (bx1 - bx0) * (by1 - by0)
        if box[3] - box[1] < 20 or box[2] <= box[0] or _area(box) < 0.8 * full or by1 - by0 > 0.9 * h:
            continue
        if any(_overlap(box, b) > 0.05 * max(1.0, _area(b)) or _overlap(box, b) > 0.1 * _area(box) for b in blockers):
            continue
        out = composite_sprite(rng, out, sprite, scale, ox, oy)
        xyxy = (int(box[0]), int(box[1]), int(np.ceil(box[2])), int(np.ceil(box[3])))
        blockers.append(box)  # the next stall does not stand in this one
        placed.append(
            StallPlacement(
                xyxy, int(sprite.record["index"]), sprite.record["kind"], list(sprite.record["parts"]), flip,
                (int(foot_x), int(foot_y)), round(ppm, 2), round(horizon, 1), round(camera_h, 2), ref.xyxy,
            )
        )  # fmt: skip
    return np.clip(out, 0, 255).astype(np.uint8), placed


def _area(box: tuple[float, ...]) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    return _area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))


def composite_sprite(
    rng: np.random.Generator, image: Array, sprite: Sprite, scale: float, ox: float, oy: float
) -> Array:
    """Alpha-composite the scaled sprite (stall and shadow) at (ox, oy), relit to the photo and re-grained.

    `image` is float32 and is changed in place; also used by the patrol-view composer (datasets/compose).
    """
    h, w = image.shape[:2]
    sh, sw = sprite.bgra.shape[:2]
    size = (max(1, round(sw * scale)), max(1, round(sh * scale)))
    scaled = cv2.resize(sprite.bgra, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    scaled = scaled.astype(np.float32)
    x, y = round(ox), round(oy)
    x0, y0, x1, y1 = max(0, x), max(0, y), min(w, x + size[0]), min(h, y + size[1])
    if x1 <= x0 or y1 <= y0:
        return image
    obj = scaled[y0 - y : y1 - y, x0 - x : x1 - x]
    region = image[y0:y1, x0:x1]
    alpha: Array = obj[..., 3:] / 255.0
    solid = alpha[..., 0] > 0.95
    colour: Array = obj[..., :3]
    if solid.any():
        # Relight: the render's sun and sky are not the photo's; pull its brightness and colour halfway to them.
        around = region[~solid] if (~solid).sum() > 50 else region.reshape(-1, 3)
        gain = np.clip((around.mean() + 1) / (colour[solid].mean() + 1), 0.5, 1.6) ** 0.5
        cast = np.clip((around.mean(axis=0) + 1) / (around.mean() + 1), 0.85, 1.15) ** 0.5
        colour = np.asarray(colour * gain * cast)
    if scale < 1:  # an enlarged render is soft already; a reduced one is sharper than the photo's optics
        colour = cv2.GaussianBlur(colour, (0, 0), rng.uniform(0.3, 0.9))
    # The photo's sensor noise, robustly (median absolute deviation of its fine detail, so that leaves, bricks and
    # edges around the stall do not count as noise), capped: a stall is not grainier than a clean wall.
    detail = region - cv2.GaussianBlur(region, (0, 0), 1.0)
    noise = float(np.clip(1.4826 * np.median(np.abs(detail - np.median(detail))), 0.5, 5.0))
    colour = colour + rng.normal(0, noise, colour.shape)
    alpha = cv2.GaussianBlur(alpha[..., 0], (0, 0), 0.5)[..., None]
    image[y0:y1, x0:x1] = region * (1 - alpha) + colour * alpha
    return image
