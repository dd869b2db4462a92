"""Named, bbox-aware augmentation presets for training detectors on patrol-car footage.

A registry of presets in the spirit of torchvision's reference `presets.py`: `build_preset(name)` gives an
albumentations `Compose` that moves YOLO boxes along with the pixels, `apply_preset` runs it on one BGR image and
returns only boxes that are still valid.

- `none`: no-op, for baselines and debugging.
- `light`: mild brightness/contrast/colour jitter and a horizontal flip.
- `street` (default): what a roof camera sees on patrol — lighting changes (shadows, dusk, low light), rare rain,
  fog or sun flare, horizontal motion blur from a car passing at up to 30 km/h, sensor noise, JPEG artefacts,
  random zoom/crop that keeps boxes, horizontal flip.
- `heavy`: the same chain with stronger, more frequent effects.

Colour operations are symmetric in channel order (random hue shifts in both directions, grey rain, white fog and
flare), so they are applied to BGR images as they come from cv2 without converting to RGB.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

# albumentations asks PyPI for a newer version at import time: a network call and, offline, a UserWarning.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import albumentations as A
import cv2
import numpy as np
import numpy.typing as npt

DEFAULT_PRESET = "street"
# Same grey as the YOLO letterbox, so zoomed-out borders look like the padding the model sees at inference anyway.
_PAD_GREY = 114

TransformList = list[A.BasicTransform | A.BaseCompose]


def motion_blur_kernel(speed_kmh: float, exposure_s: float, *, focal_px: float = 960.0, distance_m: float = 4.0) -> int:
    """Odd motion-blur kernel size in pixels for a side-looking camera on a moving car.

    Blur = distance travelled during the exposure, projected onto the sensor: speed * exposure * focal / distance.
    The defaults describe a 1080p roof camera with ~90° horizontal field of view (focal ≈ 960 px) looking at
    kerbside objects about 4 m away; smaller frames get relatively more blur from the same kernel.
    """
    if speed_kmh < 0 or exposure_s <= 0 or focal_px <= 0 or distance_m <= 0:
        raise ValueError(
            f"expected speed >= 0 and positive exposure, focal, distance; got speed_kmh={speed_kmh}, "
            f"exposure_s={exposure_s}, focal_px={focal_px}, distance_m={distance_m}"
        )
    blur_px = speed_kmh / 3.6 * exposure_s * focal_px / distance_m
    return max(3, round(blur_px) | 1)


@dataclass(frozen=True)
class _Strength:
    """Knobs of the street chain; `street` and `heavy` differ only in these."""

    geometry_p: float
    zoom: tuple[float, float]
    shift: float
    erosion: float  # BBoxSafeRandomCrop: > 0 lets the crop cut into the union of boxes
    lighting_p: float
    brightness: tuple[float, float]  # skewed negative: dusk and underexposure are commoner than glare
    contrast: float
    gamma: tuple[float, float]  # albumentations gamma > 100 darkens: low-light frames
    shadow_p: float
    weather_p: float
    rain_type: Literal["drizzle", "heavy"]
    fog: tuple[float, float]
    flare_radius_px: int
    blur_p: float
    blur_px: int
    noise_p: float
    noise_std: tuple[float, float]  # fraction of 255
    jpeg_p: float
    jpeg_quality: tuple[int, int]


_STREET = _Strength(
    geometry_p=0.5,
    zoom=(0.8, 1.2),
    shift=0.05,
    erosion=0.0,
    lighting_p=0.6,
    brightness=(-0.35, 0.2),
    contrast=0.2,
    gamma=(80, 160),
    shadow_p=0.2,
    weather_p=0.1,
    rain_type="drizzle",
    fog=(0.1, 0.3),
    flare_radius_px=200,
    blur_p=0.3,
    # Daylight auto-exposure on a roof camera is around 1/250 s.
    blur_px=motion_blur_kernel(30, 1 / 250),
    noise_p=0.3,
    noise_std=(0.01, 0.05),
    jpeg_p=0.3,
    jpeg_quality=(40, 95),
)

_HEAVY = _Strength(
    geometry_p=0.8,
    zoom=(0.6, 1.4),
    shift=0.1,
    erosion=0.2,
    lighting_p=0.8,
    brightness=(-0.5, 0.3),
    contrast=0.35,
    gamma=(70, 220),
    shadow_p=0.4,
    weather_p=0.25,
    rain_type="heavy",
    fog=(0.2, 0.5),
    flare_radius_px=300,
    blur_p=0.5,
    # Dusk exposures are twice as long.
    blur_px=motion_blur_kernel(30, 1 / 125),
    noise_p=0.5,
    noise_std=(0.02, 0.1),
    jpeg_p=0.5,
    jpeg_quality=(20, 80),
)


class Haze(A.ImageOnlyTransform):  # type: ignore[misc]
    """Fog or haze: a pale veil, denser towards the top of the frame (farther away) and in soft patches.

    Stands in for albumentations' RandomFog, which draws hundreds of blurred circles: about 360 ms on a 640 px
    image on one core, most of what the whole `street` chain cost per training sample although fog fires on only
    1 in 30 of them. This takes about 3 ms; `intensity_range` is the veil's opacity at the top of the frame.
    """

    class InitSchema(A.core.transforms_interface.BaseTransformInitSchema):  # type: ignore[misc]
        intensity_range: tuple[float, float]

    def __init__(self, intensity_range: tuple[float, float] = (0.1, 0.3), p: float = 0.5) -> None:
        super().__init__(p=p)
        low, high = intensity_range
        if not 0.0 <= low <= high <= 1.0:
            raise ValueError(f"intensity_range must satisfy 0 <= low <= high <= 1, got {intensity_range}")
        self.intensity_range = intensity_range

    def get_params(self) -> dict[str, Any]:
        return {
            "intensity": self.py_random.uniform(*self.intensity_range),
            "patches": self.random_generator.random((3, 5)).astype(np.float32),
        }

    def apply(self, img: npt.NDArray[Any], intensity: float, patches: npt.NDArray[Any], **params: Any) -> Any:
        h, w = img.shape[:2]
        depth = np.linspace(1.0, 0.4, h, dtype=np.float32)[:, None]  # the top of a street frame is the far end
        veil = cv2.resize(patches, (w, h), interpolation=cv2.INTER_LINEAR) * 0.5 + 0.5
        alpha = (intensity * depth * veil)[..., None]
        hazy = img.astype(np.float32) * (1.0 - alpha) + 235.0 * alpha  # fog scatters light: pale, not pure white
        return np.clip(hazy, 0, 255).astype(np.uint8)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("intensity_range",)


def _geometry(s: _Strength) -> TransformList:
    zoom_or_crop = A.OneOf(
        [
            A.Affine(
                scale=s.zoom,
                translate_percent=(-s.shift, s.shift),
                keep_ratio=True,
                border_mode=cv2.BORDER_CONSTANT,
                fill=_PAD_GREY,
                p=1.0,
            ),
            A.BBoxSafeRandomCrop(erosion_rate=s.erosion, p=1.0),
        ],
        p=s.geometry_p,
    )
    return [zoom_or_crop, A.HorizontalFlip(p=0.5)]


def _lighting(s: _Strength) -> TransformList:
    exposure = A.OneOf(
        [
            A.RandomBrightnessContrast(brightness_limit=s.brightness, contrast_limit=s.contrast, p=1.0),
            A.RandomGamma(gamma_limit=s.gamma, p=1.0),
        ],
        p=s.lighting_p,
    )
    # Street lamps and auto white balance shift the colour cast.
    colour = A.HueSaturationValue(hue_shift_limit=8, sat_shift_limit=20, val_shift_limit=10, p=0.3)
    shadow = A.RandomShadow(
        shadow_roi=(0.0, 0.3, 1.0, 1.0), num_shadows_limit=(1, 2), shadow_intensity_range=(0.3, 0.6), p=s.shadow_p
    )
    return [exposure, colour, shadow]


def _weather(s: _Strength) -> TransformList:
    weather = A.OneOf(
        [
            A.RandomRain(rain_type=s.rain_type, brightness_coefficient=0.9, blur_value=3, p=1.0),
            Haze(intensity_range=s.fog, p=1.0),
            A.RandomSunFlare(
                flare_roi=(0.0, 0.0, 1.0, 0.4), src_radius=s.flare_radius_px, num_flare_circles_range=(3, 6), p=1.0
            ),
        ],
        p=s.weather_p,
    )
    return [weather]


def _camera(s: _Strength) -> TransformList:
    # The car moves along the street, so blur is horizontal: 180 ± 5° for camera roll (albumentations only takes
    # angles in [0, 360], and a symmetric kernel at 180° is the same line as at 0°). Centred and unshifted so the
    # blurred object stays inside its box.
    blur = A.MotionBlur(
        blur_limit=(3, s.blur_px), angle_range=(175, 185), direction_range=(0.0, 0.0), allow_shifted=False, p=s.blur_p
    )
    noise = A.GaussNoise(std_range=s.noise_std, p=s.noise_p)
    # Last: the encoder compresses whatever the sensor produced.
    jpeg = A.ImageCompression(compression_type="jpeg", quality_range=s.jpeg_quality, p=s.jpeg_p)
    return [blur, noise, jpeg]


def _street_chain(s: _Strength) -> TransformList:
    return [*_geometry(s), *_lighting(s), *_weather(s), *_camera(s)]


def _light() -> TransformList:
    return [
        A.RandomBrightnessContrast(brightness_limit=0.15, contrast_limit=0.15, p=0.5),
        A.HueSaturationValue(hue_shift_limit=5, sat_shift_limit=10, val_shift_limit=10, p=0.3),
        A.HorizontalFlip(p=0.5),
    ]


_BUILDERS: dict[str, Callable[[], TransformList]] = {
    # A lone NoOp rather than an empty list: albumentations warns about bbox params with no transform to use them.
    "none": lambda: [A.NoOp(p=1.0)],
    "light": _light,
    "street": lambda: _street_chain(_STREET),
    "heavy": lambda: _street_chain(_HEAVY),
}
PRESETS: tuple[str, ...] = tuple(_BUILDERS)


_PIXEL_BUILDERS: dict[str, Callable[[], TransformList]] = {
    "none": lambda: [],
    "light": lambda: [t for t in _light() if not isinstance(t, A.HorizontalFlip)],
    "street": lambda: [*_lighting(_STREET), *_weather(_STREET), *_camera(_STREET)],
    "heavy": lambda: [*_lighting(_HEAVY), *_weather(_HEAVY), *_camera(_HEAVY)],
}


def pixel_transforms(name: str = DEFAULT_PRESET) -> TransformList:
    """The pixel-level part of preset `name` (lighting, weather, camera), without geometry or flips.

    For ultralytics training (`augmentations=`), whose own mosaic, affine and flip already move the boxes: the
    preset adds what a roof camera sees that those do not (dusk, shadows, rain, motion blur, noise, JPEG).
    """
    if name not in _PIXEL_BUILDERS:
        raise ValueError(f"unknown augmentation preset {name!r}; known presets: {', '.join(PRESETS)}")
    return _PIXEL_BUILDERS[name]()


def build_preset(name: str = DEFAULT_PRESET, *, seed: int | None = None, min_visibility: float = 0.3) -> A.Compose:
    """Bbox-aware albumentations pipeline for preset `name` (one of `PRESETS`), for YOLO boxes labelled `class_ids`.

    The same `seed` gives the same sequence of augmentations; `None` draws fresh randomness. The pipeline's random
    state is copied into forked data-loader workers, so give each worker its own seed (e.g. base seed + worker id)
    or they repeat each other. Boxes left with less than `min_visibility` of their area after a crop or zoom are
    dropped. Unknown names raise ValueError.
    """
    if name not in _BUILDERS:
        raise ValueError(f"unknown augmentation preset {name!r}; known presets: {', '.join(PRESETS)}")
    if not 0.0 <= min_visibility <= 1.0:
        raise ValueError(f"min_visibility must be in [0, 1], got {min_visibility}")
    # clip=True: labels rounded to 6 decimals can poke out of [0, 1] by 1e-6, which albumentations would reject.
    bbox_params = A.BboxParams(format="yolo", label_fields=["class_ids"], min_visibility=min_visibility, clip=True)
    compose = A.Compose(_BUILDERS[name](), bbox_params=bbox_params, seed=seed)
    # albumentations 2.0.8 seeds every child with the Compose's own seed, so all children draw the same numbers: their
    # `p` coin flips agree and the chain fires all-or-nothing. One shared stream keeps it seeded but independent.
    compose.set_random_state(np.random.default_rng(seed), random.Random(seed))
    return compose


def _check_inputs(image: npt.NDArray[Any], boxes: npt.NDArray[Any], class_ids: npt.NDArray[Any]) -> None:
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 BGR image, got shape {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got dtype {image.dtype}")
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"expected boxes of shape (N, 4), got {boxes.shape}")
    if class_ids.shape != (boxes.shape[0],):
        raise ValueError(f"expected class_ids of shape ({boxes.shape[0]},) to match the boxes, got {class_ids.shape}")


def _keep_valid(
    boxes: npt.NDArray[np.float32], class_ids: npt.NDArray[np.integer[Any]]
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.integer[Any]]]:
    # Float round-off in albumentations' format conversions can leave an edge a hair outside the image; clip those
    # boxes only, so boxes that are already valid come back bit for bit.
    centre, size = boxes[:, :2].astype(np.float64), boxes[:, 2:].astype(np.float64)
    corners = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    clipped = np.clip(corners, 0.0, 1.0)
    clipped_size = clipped[:, 2:] - clipped[:, :2]
    fixed = np.concatenate([(clipped[:, :2] + clipped[:, 2:]) / 2, clipped_size], axis=1).astype(np.float32)
    outside = (corners != clipped).any(axis=1)
    result = np.where(outside[:, None], fixed, boxes)
    keep = (clipped_size > 0).all(axis=1)
    return result[keep], class_ids[keep]


def apply_preset(
    transform: A.Compose,
    image: npt.NDArray[np.uint8],
    boxes: npt.NDArray[np.floating[Any]],
    class_ids: npt.NDArray[np.integer[Any]],
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32], npt.NDArray[np.integer[Any]]]:
    """Augment one HxWx3 uint8 BGR image and its (N, 4) YOLO boxes (cx, cy, w, h, normalised) with `transform`.

    Returns the augmented image (a new uint8 array, possibly a different size after a crop), the surviving boxes as
    float32 within [0, 1] with positive size, and their class ids in the same order and dtype as given. Boxes the
    transform drops disappear together with their class id. Untouched boxes may differ from the input by float32
    round-off from albumentations' format conversions. Wrong shapes or dtypes raise ValueError.
    """
    image, boxes, class_ids = np.asarray(image), np.asarray(boxes), np.asarray(class_ids)
    _check_inputs(image, boxes, class_ids)
    out = transform(image=image, bboxes=boxes.astype(np.float32), class_ids=class_ids)
    out_boxes = np.asarray(out["bboxes"], dtype=np.float32).reshape(-1, 4)
    out_ids = np.asarray(out["class_ids"], dtype=class_ids.dtype).reshape(-1)
    if len(out_ids) != len(out_boxes):
        raise RuntimeError(f"transform returned {len(out_boxes)} boxes but {len(out_ids)} class ids")
    kept_boxes, kept_ids = _keep_valid(out_boxes, out_ids)
    out_image = np.ascontiguousarray(out["image"], dtype=np.uint8)
    # When nothing fired albumentations hands back the caller's array; drawing on the result must not edit the input.
    if np.shares_memory(out_image, image):
        out_image = out_image.copy()
    return out_image, kept_boxes, kept_ids
