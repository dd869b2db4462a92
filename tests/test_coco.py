from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import yaml

from datasets.coco import coco_to_yolo, read_coco, write_coco, yolo_to_coco

NAMES = {0: "illegal_ad", 1: "overflowing_bin", 2: "占道经营"}


def _write_image(path: Path, width: int, height: int, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), image)
    return path


def _yolo_dataset(root: Path, items: dict[str, tuple[int, int, str | None]], names: object = NAMES) -> Path:
    """Images `name -> (width, height, label text or None for no label file)` in the train split of `root`."""
    for seed, (name, (width, height, label)) in enumerate(items.items()):
        _write_image(root / "images" / "train" / name, width, height, seed)
        if label is not None:
            label_path = (root / "labels" / "train" / name).with_suffix(".txt")
            label_path.parent.mkdir(parents=True, exist_ok=True)
            label_path.write_text(label, encoding="utf-8")
    data = {"train": "images/train", "val": "images/val", "names": names}
    (root / "data.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return root


def _labels(root: Path, split: str = "train") -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted((root / "labels" / split).glob("*.txt"))}


def _small_coco() -> dict[str, Any]:
    return {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [4.0, 6.0, 10.0, 8.0], "iscrowd": 0}],
        "categories": [{"id": 1, "name": "illegal_ad"}],
    }


def test_yolo_coco_yolo_reproduces_label_text_including_a_negative(tmp_path: Path) -> None:
    src = _yolo_dataset(
        tmp_path / "src",
        {
            "street_a.jpg": (64, 48, "0 0.500000 0.500000 1.000000 1.000000\n2 0.123457 0.654321 0.100000 0.200000\n"),
            "street_b.png": (100, 80, "1 0.050000 0.937500 0.100001 0.125000\n"),
            "empty_road.png": (64, 48, ""),
        },
    )
    coco = yolo_to_coco(src, "train")
    write_coco(coco, tmp_path / "train.json")
    out = tmp_path / "out"
    coco_to_yolo(read_coco(tmp_path / "train.json"), src / "images" / "train", out, "train")

    assert _labels(out) == _labels(src)
    assert _labels(out)["empty_road.txt"] == ""
    negative = next(image for image in coco["images"] if image["file_name"] == "empty_road.png")
    assert not [a for a in coco["annotations"] if a["image_id"] == negative["id"]]
    for name in ("street_a.jpg", "street_b.png", "empty_road.png"):
        assert (out / "images" / "train" / name).read_bytes() == (src / "images" / "train" / name).read_bytes()


def test_random_boxes_survive_yolo_coco_yolo_exactly(tmp_path: Path) -> None:
    rng = random.Random(7)
    lines = []
    for _ in range(300):
        x1, x2 = sorted(rng.choice([0.0, 1.0, rng.random()]) for _ in range(2))
        y1, y2 = sorted(rng.random() for _ in range(2))
        if x2 - x1 < 1e-4 or y2 - y1 < 1e-4:
            continue
        lines.append(f"{rng.randrange(3)} {(x1 + x2) / 2:.6f} {(y1 + y2) / 2:.6f} {x2 - x1:.6f} {y2 - y1:.6f}\n")
    text = "".join(lines)
    src = _yolo_dataset(tmp_path / "src", {"big.png": (1999, 1333, text)})
    coco_to_yolo(yolo_to_coco(src, "train"), src / "images" / "train", tmp_path / "out", "train")
    assert len(lines) > 100
    assert _labels(tmp_path / "out")["big.txt"] == text


def test_coco_yolo_coco_reproduces_bboxes(tmp_path: Path) -> None:
    images_dir = tmp_path / "coco_images"
    sizes = {"b.png": (100, 80), "a.jpg": (64, 48), "wide.jpg": (2000, 1200)}
    for seed, (name, (width, height)) in enumerate(sizes.items()):
        _write_image(images_dir / name, width, height, seed)
    ids = {"b.png": 42, "a.jpg": 7, "wide.jpg": 3}
    boxes = {
        "a.jpg": [[1.25, 2.5, 30.125, 20.0], [0.0, 0.0, 64.0, 48.0]],
        "b.png": [],
        "wide.jpg": [[1234.567, 3.21, 765.432, 99.99]],
    }
    coco: dict[str, Any] = {
        "images": [{"id": ids[n], "file_name": n, "width": w, "height": h} for n, (w, h) in sizes.items()],
        "annotations": [],
        "categories": [{"id": 1, "name": "illegal_ad"}, {"id": 2, "name": "overflowing_bin"}],
    }
    for name, bboxes in boxes.items():
        for bbox in bboxes:
            ann = {"id": len(coco["annotations"]) + 1, "image_id": ids[name], "category_id": 2, "bbox": bbox}
            coco["annotations"].append({**ann, "area": bbox[2] * bbox[3], "iscrowd": 0})

    coco_to_yolo(coco, images_dir, tmp_path / "yolo", "val")
    back = yolo_to_coco(tmp_path / "yolo", "val")

    assert [image["file_name"] for image in back["images"]] == ["a.jpg", "b.png", "wide.jpg"]
    assert [image["id"] for image in back["images"]] == [1, 2, 3]
    assert back["categories"] == coco["categories"]
    name_of = {image["id"]: image["file_name"] for image in back["images"]}
    got: dict[str, list[list[float]]] = {name: [] for name in sizes}
    for ann in back["annotations"]:
        assert ann["category_id"] == 2
        assert ann["area"] == pytest.approx(ann["bbox"][2] * ann["bbox"][3])
        got[name_of[ann["image_id"]]].append(ann["bbox"])
    for name, expected in boxes.items():
        assert len(got[name]) == len(expected)
        for bbox, want in zip(got[name], expected, strict=True):
            assert np.abs(np.array(bbox) - np.array(want)).max() < 0.01, (name, bbox, want)


def test_category_id_is_class_id_plus_one(tmp_path: Path) -> None:
    src = _yolo_dataset(tmp_path / "src", {"a.jpg": (64, 48, "2 0.500000 0.500000 0.250000 0.250000\n")})
    coco = yolo_to_coco(src, "train")
    assert coco["categories"] == [{"id": k + 1, "name": v} for k, v in NAMES.items()]
    assert coco["annotations"][0]["category_id"] == 3
    assert coco["annotations"][0]["bbox"] == pytest.approx([24.0, 18.0, 16.0, 12.0])


def test_sparse_category_ids_become_consecutive_classes(tmp_path: Path) -> None:
    _write_image(tmp_path / "in" / "a.jpg", 64, 48)
    coco = _small_coco()
    coco["categories"] = [{"id": 9, "name": "overflowing_bin"}, {"id": 5, "name": "illegal_ad"}]
    coco["annotations"][0]["category_id"] = 9
    coco_to_yolo(coco, tmp_path / "in", tmp_path / "out", "train")
    data = yaml.safe_load((tmp_path / "out" / "data.yaml").read_text(encoding="utf-8"))
    assert data == {"train": "images/train", "val": "images/val", "names": {0: "illegal_ad", 1: "overflowing_bin"}}
    assert _labels(tmp_path / "out")["a.txt"].startswith("1 ")


def test_data_yaml_update_keeps_keys_and_rejects_other_names(tmp_path: Path) -> None:
    _write_image(tmp_path / "in" / "a.jpg", 64, 48)
    out = tmp_path / "out"
    out.mkdir()
    (out / "data.yaml").write_text("path: /data/sw\nnames: [illegal_ad]\n", encoding="utf-8")
    coco_to_yolo(_small_coco(), tmp_path / "in", out, "test")
    data = yaml.safe_load((out / "data.yaml").read_text(encoding="utf-8"))
    assert data["path"] == "/data/sw"
    assert data["test"] == "images/test"
    assert data["names"] == {0: "illegal_ad"}

    (out / "data.yaml").write_text("names: {0: overflowing_bin}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="overflowing_bin"):
        coco_to_yolo(_small_coco(), tmp_path / "in", out, "train")
    assert not (out / "labels" / "train").exists()


def test_partly_outside_box_is_clipped(tmp_path: Path) -> None:
    _write_image(tmp_path / "in" / "a.jpg", 64, 48)
    coco = _small_coco()
    coco["annotations"][0]["bbox"] = [-16.0, 40.0, 32.0, 20.0]
    coco_to_yolo(coco, tmp_path / "in", tmp_path / "out", "train")
    assert _labels(tmp_path / "out")["a.txt"] == "0 0.125000 0.916667 0.250000 0.166667\n"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("image_id", 99, r"annotation 1: expected an image id .* got 99"),
        ("category_id", 5, r"annotation 1: expected a category id in \[1\], got 5"),
        ("bbox", [4.0, 6.0, 0.0, 8.0], "annotation 1: expected a bbox of positive width and height"),
        ("bbox", [4.0, 6.0, 10.0, 0.0], "annotation 1: expected a bbox of positive width and height"),
        ("bbox", [4.0, 6.0, -3.0, 8.0], "annotation 1: expected a bbox of positive width and height"),
        ("bbox", [70.0, 6.0, 10.0, 8.0], "annotation 1: expected a bbox inside the 64x48 image"),
        ("bbox", [4.0, 6.0, 10.0], "annotation 1: expected bbox"),
    ],
)
def test_bad_annotations_are_refused(tmp_path: Path, field: str, value: object, message: str) -> None:
    _write_image(tmp_path / "in" / "a.jpg", 64, 48)
    coco = _small_coco()
    coco["annotations"][0][field] = value
    with pytest.raises(ValueError, match=message):
        coco_to_yolo(coco, tmp_path / "in", tmp_path / "out", "train")
    assert not (tmp_path / "out" / "labels").exists()


@pytest.mark.parametrize("data", [b"this is a text file, not a photo\n" * 10, b""])
def test_non_image_file_is_named(tmp_path: Path, data: bytes) -> None:
    src = _yolo_dataset(tmp_path / "src", {"a.jpg": (64, 48, "")})
    bad = src / "images" / "train" / "notes.jpg"
    bad.write_bytes(data)
    with pytest.raises(ValueError, match=r"notes\.jpg: expected a decodable image") as info:
        yolo_to_coco(src, "train")
    assert str(bad) in str(info.value)


def test_names_as_list_and_missing_label_file(tmp_path: Path) -> None:
    src = _yolo_dataset(
        tmp_path / "src",
        {"a.jpg": (64, 48, "1 0.500000 0.500000 0.500000 0.500000\n"), "b.png": (100, 80, None)},
        names=["illegal_ad", "overflowing_bin"],
    )
    coco = yolo_to_coco(src, "train")
    assert coco["categories"] == [{"id": 1, "name": "illegal_ad"}, {"id": 2, "name": "overflowing_bin"}]
    assert [(a["image_id"], a["category_id"]) for a in coco["annotations"]] == [(1, 2)]
    assert [(i["file_name"], i["width"], i["height"]) for i in coco["images"]] == [
        ("a.jpg", 64, 48),
        ("b.png", 100, 80),
    ]


def test_label_with_unknown_class_names_file_and_line(tmp_path: Path) -> None:
    src = _yolo_dataset(tmp_path / "src", {"a.jpg": (64, 48, "0 0.5 0.5 0.1 0.1\n7 0.5 0.5 0.1 0.1\n")})
    with pytest.raises(ValueError, match=r"a\.txt:2: expected a class id in 0\.\.2, got 7"):
        yolo_to_coco(src, "train")


def test_write_coco_keeps_non_ascii(tmp_path: Path) -> None:
    coco = {"images": [], "annotations": [], "categories": [{"id": 3, "name": "占道经营"}]}
    path = tmp_path / "nested" / "c.json"
    write_coco(coco, path)
    text = path.read_text(encoding="utf-8")
    assert "占道经营" in text
    assert '\n  "images": []' in text
    assert read_coco(path) == coco
    assert json.loads(text) == coco
