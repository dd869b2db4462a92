from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import albumentations as A
import cv2
import numpy as np
import numpy.typing as npt
import pytest

from datasets.presets import DEFAULT_PRESET, PRESETS, Haze, apply_preset, build_preset, motion_blur_kernel
from tests.conftest import REPO_ROOT

SAMPLE_IMAGE = REPO_ROOT / "samples" / "images" / "garbage-cn__000053.jpg"
SAMPLE_LABELS = REPO_ROOT / "samples" / "labels" / "garbage-cn__000053.txt"
SEEDS = range(20)

Sample = tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32], npt.NDArray[np.int64]]


@pytest.fixture(scope="module")
def sample() -> Sample:
    image = cv2.imread(str(SAMPLE_IMAGE), cv2.IMREAD_COLOR)
    assert image is not None, f"cannot read {SAMPLE_IMAGE}"
    labels = np.loadtxt(SAMPLE_LABELS, ndmin=2)
    assert labels.shape == (6, 5)
    return image, labels[:, 1:].astype(np.float32), labels[:, 0].astype(np.int64)


def assert_valid_boxes(boxes: npt.NDArray[np.float32], class_ids: npt.NDArray[np.int64]) -> None:
    assert boxes.dtype == np.float32
    assert boxes.ndim == 2 and boxes.shape[1] == 4
    assert class_ids.shape == (len(boxes),)
    centre, size = boxes[:, :2].astype(np.float64), boxes[:, 2:].astype(np.float64)
    assert (size > 0).all(), boxes
    # float32 storage: an edge exactly on the border may round a hair past it
    assert (centre - size / 2 >= -1e-6).all(), boxes
    assert (centre + size / 2 <= 1 + 1e-6).all(), boxes


def test_registry_has_the_documented_presets() -> None:
    assert {"none", "light", "street", "heavy"} <= set(PRESETS)
    assert DEFAULT_PRESET == "street"
    assert all(isinstance(build_preset(name, seed=0), A.Compose) for name in PRESETS)


def test_unknown_preset_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown augmentation preset 'stret'") as excinfo:
        build_preset("stret")
    assert all(name in str(excinfo.value) for name in PRESETS)


def test_min_visibility_out_of_range_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"min_visibility must be in \[0, 1\], got 1.5"):
        build_preset("street", min_visibility=1.5)


@pytest.mark.parametrize("name", PRESETS)
def test_boxes_stay_valid_and_aligned_with_their_class_ids(name: str, sample: Sample) -> None:
    image, boxes, _ = sample
    # One id per box, so a returned id says which input box a returned box must be.
    ids = np.arange(len(boxes), dtype=np.int64)
    aspect_in = boxes[:, 2] * image.shape[1] / (boxes[:, 3] * image.shape[0])
    checked = 0
    for seed in SEEDS:
        out_image, out_boxes, out_ids = apply_preset(build_preset(name, seed=seed), image, boxes, ids)
        assert out_image.dtype == np.uint8 and out_image.ndim == 3 and out_image.shape[2] == 3
        assert_valid_boxes(out_boxes, out_ids)
        assert len(out_ids) >= 1, f"{name} seed {seed} dropped every box"
        assert (np.diff(out_ids) > 0).all(), f"ids reordered or duplicated: {out_ids}"
        # No preset rotates or stretches, so a box that no edge could have cut keeps its pixel aspect ratio:
        # a box paired with the wrong id would not (the sample's aspects differ by >= 3 %).
        corners = np.concatenate([out_boxes[:, :2] - out_boxes[:, 2:] / 2, out_boxes[:, :2] + out_boxes[:, 2:] / 2], 1)
        inside = ((corners > 1e-3) & (corners < 1 - 1e-3)).all(axis=1)
        h, w = out_image.shape[:2]
        aspect_out = out_boxes[:, 2] * w / (out_boxes[:, 3] * h)
        np.testing.assert_allclose(aspect_out[inside], aspect_in[out_ids[inside]], rtol=1e-3)
        checked += int(inside.sum())
    assert checked >= 20 * 3, "too few uncut boxes to check the pairing"


@pytest.mark.parametrize("name", PRESETS)
def test_same_seed_gives_identical_output(name: str, sample: Sample) -> None:
    image, boxes, ids = sample
    for seed in (0, 7, 123):
        first = apply_preset(build_preset(name, seed=seed), image, boxes, ids)
        second = apply_preset(build_preset(name, seed=seed), image, boxes, ids)
        for a, b in zip(first, second, strict=True):
            np.testing.assert_array_equal(a, b)


def test_none_returns_the_input_unchanged(sample: Sample) -> None:
    image, boxes, ids = sample
    before = image.copy()
    out_image, out_boxes, out_ids = apply_preset(build_preset("none", seed=0), image, boxes, ids)
    np.testing.assert_array_equal(out_image, image)
    assert not np.shares_memory(out_image, image), "the result must be safe to draw on"
    np.testing.assert_allclose(out_boxes, boxes, atol=1e-6)  # float32 round-off of format conversions only
    np.testing.assert_array_equal(out_ids, ids)
    assert out_ids.dtype == ids.dtype
    np.testing.assert_array_equal(image, before)


def test_street_changes_the_image_for_most_seeds(sample: Sample) -> None:
    image, boxes, ids = sample
    outputs = [apply_preset(build_preset("street", seed=seed), image, boxes, ids)[0] for seed in SEEDS]
    changed = sum(out.shape != image.shape or not np.array_equal(out, image) for out in outputs)
    assert changed >= 16, f"street left {len(outputs) - changed} of {len(outputs)} images untouched"
    distinct = {out.tobytes() for out in outputs}
    assert len(distinct) >= 16, "different seeds should give different augmentations"


@pytest.mark.parametrize(
    ("boxes", "class_ids", "message"),
    [
        (np.zeros((3, 5), np.float32), np.zeros(3, np.int64), r"boxes of shape \(N, 4\), got \(3, 5\)"),
        (np.zeros(4, np.float32), np.zeros(1, np.int64), r"boxes of shape \(N, 4\), got \(4,\)"),
        (np.full((2, 4), 0.5, np.float32), np.zeros(3, np.int64), r"class_ids of shape \(2,\).*got \(3,\)"),
    ],
)
def test_wrong_box_shapes_are_rejected(
    boxes: npt.NDArray[np.float32], class_ids: npt.NDArray[np.int64], message: str, sample: Sample
) -> None:
    with pytest.raises(ValueError, match=message):
        apply_preset(build_preset("street", seed=0), sample[0], boxes, class_ids)


def test_wrong_image_shape_or_dtype_is_rejected(sample: Sample) -> None:
    image, boxes, ids = sample
    transform = build_preset("light", seed=0)
    with pytest.raises(ValueError, match=r"HxWx3 BGR image, got shape \(480, 480\)"):
        apply_preset(transform, image[:, :, 0], boxes, ids)
    with pytest.raises(ValueError, match="uint8 image, got dtype float32"):
        apply_preset(transform, image.astype(np.float32), boxes, ids)


def test_dropped_boxes_take_their_class_ids_with_them(sample: Sample) -> None:
    image, _, _ = sample
    boxes = np.array([[0.25, 0.5, 0.2, 0.2], [0.75, 0.5, 0.2, 0.2], [0.5, 0.5, 0.2, 0.2]], np.float32)
    ids = np.array([3, 4, 5], np.int64)
    left_half = A.Compose(
        [A.Crop(x_min=0, y_min=0, x_max=240, y_max=480)],
        bbox_params=A.BboxParams(format="yolo", label_fields=["class_ids"], min_visibility=0.3),
    )
    out_image, out_boxes, out_ids = apply_preset(left_half, image, boxes, ids)
    assert out_image.shape == (480, 240, 3)
    np.testing.assert_array_equal(out_ids, [3, 5])  # the right-hand box is gone, the centre one is half visible
    np.testing.assert_allclose(out_boxes, [[0.5, 0.5, 0.4, 0.2], [0.9, 0.5, 0.2, 0.2]], atol=1e-6)


def test_an_image_without_boxes_is_augmented(sample: Sample) -> None:
    image = sample[0]
    out_image, out_boxes, out_ids = apply_preset(
        build_preset("heavy", seed=1), image, np.zeros((0, 4), np.float32), np.zeros(0, np.int64)
    )
    assert out_image.dtype == np.uint8 and out_image.size > 0
    assert out_boxes.shape == (0, 4) and out_ids.shape == (0,)


def test_augmented_labels_saved_as_yolo_text_can_be_augmented_again(tmp_path: Path, sample: Sample) -> None:
    image, boxes, ids = sample
    for seed in range(5):
        out_image, out_boxes, out_ids = apply_preset(build_preset("heavy", seed=seed), image, boxes, ids)
        assert len(out_ids) > 0
        label_file = tmp_path / f"aug_{seed}.txt"
        # Six decimals, as label files are written: rounding can push an edge just past 0 or 1.
        label_file.write_text(
            "".join(
                f"{k} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n" for k, (cx, cy, w, h) in zip(out_ids, out_boxes, strict=True)
            )
        )
        reloaded = np.loadtxt(label_file, ndmin=2).reshape(-1, 5)
        again = apply_preset(
            build_preset("street", seed=seed), out_image, reloaded[:, 1:].astype(np.float32), reloaded[:, 0].astype(int)
        )
        assert_valid_boxes(again[1], again[2])
        assert set(again[2]) <= set(out_ids)


def test_building_and_applying_presets_emits_no_warnings(sample: Sample) -> None:
    image, boxes, ids = sample
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in PRESETS:
            for seed in range(5):
                out_image, _, _ = apply_preset(build_preset(name, seed=seed), image, boxes, ids)
                assert out_image.size > 0


def test_import_is_silent_and_skips_the_albumentations_update_check() -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_ALBUMENTATIONS_UPDATE"}
    code = "import os, datasets.presets; print(os.environ['NO_ALBUMENTATIONS_UPDATE'])"
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"
    assert result.stderr == ""


def test_motion_blur_kernel_follows_speed_and_exposure() -> None:
    # 30 km/h, 1/250 s, 960 px focal, 4 m: 8.3 px of travel, rounded up to an odd kernel
    assert motion_blur_kernel(30, 1 / 250) == 9
    assert motion_blur_kernel(30, 1 / 125) == 17
    assert motion_blur_kernel(0, 1 / 250) == 3  # MotionBlur's smallest kernel
    assert all(motion_blur_kernel(v, 1 / 250) % 2 == 1 for v in range(0, 61, 5))
    with pytest.raises(ValueError, match="exposure_s=0"):
        motion_blur_kernel(30, 0)


def test_street_effects_fire_independently(sample: Sample) -> None:
    # albumentations 2.0.8 seeds every child with the Compose's seed; unfixed, every coin flip agreed, so motion blur
    # (p=0.3) only ever came with the flip (p=0.5).
    image, boxes, ids = sample
    fired: list[set[str]] = []
    for seed in range(40):
        transform = build_preset("street", seed=seed)
        transform.save_applied_params = True
        out = transform(image=image, bboxes=boxes, class_ids=ids)
        fired.append({name for name, _ in out["applied_transforms"]})
    flipped = {i for i, names in enumerate(fired) if "HorizontalFlip" in names}
    blurred = {i for i, names in enumerate(fired) if "MotionBlur" in names}
    assert 8 <= len(flipped) <= 32 and 4 <= len(blurred) <= 24
    assert not blurred <= flipped, "motion blur never fired without the flip"


def test_haze_pales_the_far_end_of_the_frame_more_than_the_near_end() -> None:
    dark = np.full((120, 160, 3), 40, np.uint8)
    hazy = A.Compose([Haze(intensity_range=(0.3, 0.3), p=1.0)], seed=3)(image=dark)["image"]
    assert hazy.shape == dark.shape and hazy.dtype == np.uint8
    top, bottom = hazy[:10].mean(), hazy[-10:].mean()
    # opacity 0.3 × depth 1.0 × veil 0.5–1.0 at the top: 40 + (235 − 40) × 0.15–0.3 ≈ 69–99
    assert 69 <= top <= 99, top
    assert 40 < bottom < top, (top, bottom)
    assert (hazy >= dark).all()  # a veil of pale light only lightens a dark scene


def test_haze_refuses_an_opacity_outside_0_to_1() -> None:
    with pytest.raises(ValueError, match="intensity_range"):
        Haze(intensity_range=(0.5, 1.2))
