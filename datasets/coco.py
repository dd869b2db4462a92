"""Conversion between a YOLO detection dataset folder and COCO detection JSON, round-trip safe.

YOLO layout: `<root>/images/<split>/<name>.jpg|.png`, `<root>/labels/<split>/<name>.txt` (one `class cx cy w h` line per
box, normalised, 6 decimals; an empty file is a negative image) and `<root>/data.yaml` with `names` and `train`/`val`.
COCO category ids are YOLO class ids + 1. A YOLO -> COCO -> YOLO round trip reproduces well-formed label files byte for
byte; COCO -> YOLO -> COCO reproduces bboxes to about 1e-6 of the image size (0.002 px at 2000 px).
"""

from __future__ import annotations

import json
import logging
import math
import shutil
from pathlib import Path, PurePosixPath
from typing import Any

import cv2
import numpy as np
import yaml

logger = logging.getLogger(__name__)

# Box edges up to one 6th-decimal unit (normalised) past the border are YOLO rounding (cx 0.5e-6 + w/2 0.25e-6): kept.
EDGE_TOLERANCE = 1e-6


def read_names(root: Path) -> dict[int, str]:
    """Class names from `root/data.yaml`, as {0-based class id: name}.

    `names` may be a dict (id -> name, ids as ints or digit strings) or a list; ids must be 0..n-1.
    """
    path = root / "data.yaml"
    if not path.is_file():
        raise ValueError(f"expected a dataset description at {path}, but there is no such file")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "names" not in data:
        raise ValueError(f"{path}: expected a mapping with a 'names' key, got {type(data).__name__}")
    return _parse_names(data["names"], str(path))


def _parse_names(raw: object, where: str) -> dict[int, str]:
    if isinstance(raw, list):
        raw = dict(enumerate(raw))
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected 'names' to be a dict or a list, got {type(raw).__name__}")
    try:
        names = {int(key): str(value) for key, value in raw.items()}
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where}: expected integer class ids in 'names', got {list(raw)}") from error
    if sorted(names) != list(range(len(names))):
        raise ValueError(f"{where}: expected class ids 0..{len(names) - 1} in 'names', got {sorted(names)}")
    return dict(sorted(names.items()))


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) of an image file as OpenCV decodes it (EXIF orientation applied); `ValueError` if undecodable."""
    buffer = np.frombuffer(path.read_bytes(), dtype=np.uint8)
    image = None
    if buffer.size:
        try:
            image = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
        except cv2.error as error:
            raise ValueError(f"{path}: expected a decodable image, OpenCV refused it ({error.err})") from error
    if image is None:
        raise ValueError(f"{path}: expected a decodable image (JPEG, PNG, ...), got {buffer.size} undecodable bytes")
    height, width = image.shape[:2]
    return int(width), int(height)


def yolo_to_coco(root: Path, split: str) -> dict[str, Any]:
    """A COCO detection dict for `root/images/<split>/`, labels from `root/labels/<split>/`.

    Every non-hidden file under the images folder must be a decodable image (else `ValueError` naming it). Images are
    sorted by file name (relative to `images/<split>/`, posix) and numbered from 1; annotations are numbered from 1 in
    that image order and label-line order. COCO category id = YOLO class id + 1. A missing label file means a negative.
    Bboxes are exact float pixels (not rounded), so converting back reproduces the label text.
    """
    images_dir, labels_dir = root / "images" / split, root / "labels" / split
    if not images_dir.is_dir():
        raise ValueError(f"expected an images folder at {images_dir}, but there is none")
    names = read_names(root)
    files = _image_files(images_dir)
    categories = [{"id": class_id + 1, "name": name} for class_id, name in names.items()]
    coco: dict[str, Any] = {"images": [], "annotations": [], "categories": categories}
    for image_id, (file_name, path) in enumerate(files, start=1):
        width, height = image_size(path)
        coco["images"].append({"id": image_id, "file_name": file_name, "width": width, "height": height})
        label = labels_dir / PurePosixPath(file_name).with_suffix(".txt")
        if not label.is_file():
            logger.debug("%s: no label file, treated as a negative image", label)
            continue
        first_id = len(coco["annotations"]) + 1
        coco["annotations"].extend(_annotations(_read_label_file(label, len(names)), image_id, width, height, first_id))
    _warn_orphan_labels(labels_dir, {name for name, _ in files})
    return coco


def _annotations(
    rows: list[tuple[int, tuple[float, float, float, float]]], image_id: int, width: int, height: int, first_id: int
) -> list[dict[str, Any]]:
    annotations: list[dict[str, Any]] = []
    for ann_id, (class_id, (cx, cy, w, h)) in enumerate(rows, start=first_id):
        x, y, box_w, box_h = (cx - w / 2) * width, (cy - h / 2) * height, w * width, h * height
        annotation = {"id": ann_id, "image_id": image_id, "category_id": class_id + 1, "bbox": [x, y, box_w, box_h]}
        annotations.append({**annotation, "area": box_w * box_h, "iscrowd": 0})
    return annotations


def _image_files(images_dir: Path) -> list[tuple[str, Path]]:
    files = sorted(
        (path.relative_to(images_dir).as_posix(), path)
        for path in images_dir.rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(images_dir).parts)
    )
    stems: dict[str, str] = {}
    for file_name, _ in files:
        stem = str(PurePosixPath(file_name).with_suffix(""))
        if stem in stems:
            raise ValueError(f"{images_dir}: expected one image per label name, got {stems[stem]} and {file_name}")
        stems[stem] = file_name
    return files


def _read_label_file(path: Path, num_classes: int) -> list[tuple[int, tuple[float, float, float, float]]]:
    rows: list[tuple[int, tuple[float, float, float, float]]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        try:
            class_id, cx, cy, w, h = int(fields[0]), *(float(v) for v in fields[1:])
        except ValueError as error:
            raise ValueError(f"{path}:{number}: expected 'class cx cy w h', got {line!r}") from error
        if not 0 <= class_id < num_classes:
            raise ValueError(f"{path}:{number}: expected a class id in 0..{num_classes - 1}, got {class_id}")
        if not (w > 0 and h > 0 and all(math.isfinite(v) for v in (cx, cy, w, h))):
            raise ValueError(f"{path}:{number}: expected a finite box of positive size, got {line!r}")
        rows.append((class_id, (cx, cy, w, h)))
    return rows


def _warn_orphan_labels(labels_dir: Path, file_names: set[str]) -> None:
    if not labels_dir.is_dir():
        return
    expected = {str(PurePosixPath(name).with_suffix(".txt")) for name in file_names}
    orphans = sorted(p.relative_to(labels_dir).as_posix() for p in labels_dir.rglob("*.txt"))
    orphans = [name for name in orphans if name not in expected]
    if orphans:
        logger.warning("%s: %d label files without an image, ignored (first: %s)", labels_dir, len(orphans), orphans[0])


def coco_to_yolo(coco: dict[str, Any], images_dir: Path, root: Path, split: str) -> None:
    """Write a COCO detection dict as the YOLO split `root/images/<split>/` + `root/labels/<split>/`.

    Images are copied from `images_dir / file_name`; every image gets a label file (empty for a negative). Categories,
    sorted by id, become YOLO classes 0..n-1 (so ids 1..n map to id - 1). `root/data.yaml` is created or updated: its
    `names` must match if it exists (else `ValueError`), missing `train`/`val`/`<split>` keys are added. Width and
    height come from the COCO image entries. Crowd annotations (iscrowd=1) are skipped. Raises `ValueError` for an
    unknown image or category id, and naming the annotation id for a bbox of non-positive size or wholly outside its
    image; a box partly outside is clipped to the image.
    """
    images = _index_images(coco)
    class_of, names = _category_classes(coco)
    lines = _label_lines(coco, images, class_of)
    data_yaml = _merged_data_yaml(root, split, names)
    sources = {image_id: images_dir / image["file_name"] for image_id, image in images.items()}
    for image_id, source in sources.items():
        if not source.is_file():
            raise ValueError(f"image {image_id}: expected the file {source}, but there is none")
    out_images, out_labels = root / "images" / split, root / "labels" / split
    for image_id, image in images.items():
        target = out_images / image["file_name"]
        target.parent.mkdir(parents=True, exist_ok=True)
        if not (target.exists() and target.resolve() == sources[image_id].resolve()):
            shutil.copy2(sources[image_id], target)
        label = out_labels / PurePosixPath(image["file_name"]).with_suffix(".txt")
        label.parent.mkdir(parents=True, exist_ok=True)
        label.write_text("".join(line + "\n" for line in lines[image_id]), encoding="utf-8")
    root.mkdir(parents=True, exist_ok=True)
    (root / "data.yaml").write_text(yaml.safe_dump(data_yaml, sort_keys=False, allow_unicode=True), encoding="utf-8")


def _label_lines(
    coco: dict[str, Any], images: dict[int, dict[str, Any]], class_of: dict[int, int]
) -> dict[int, list[str]]:
    lines: dict[int, list[str]] = {image_id: [] for image_id in images}
    for ann in coco.get("annotations", []):
        ann_id, image_id, category_id = ann.get("id"), ann.get("image_id"), ann.get("category_id")
        if image_id not in images:
            raise ValueError(f"annotation {ann_id}: expected an image id from 'images', got {image_id!r}")
        if category_id not in class_of:
            raise ValueError(f"annotation {ann_id}: expected a category id in {sorted(class_of)}, got {category_id!r}")
        if ann.get("iscrowd", 0):
            logger.debug("annotation %s: crowd region skipped", ann_id)
            continue
        image = images[image_id]
        lines[image_id].append(_yolo_line(ann, class_of[category_id], image["width"], image["height"]))
    return lines


def _index_images(coco: dict[str, Any]) -> dict[int, dict[str, Any]]:
    images: dict[int, dict[str, Any]] = {}
    seen: set[str] = set()
    for image in coco.get("images", []):
        image_id, file_name = image.get("id"), image.get("file_name")
        if image_id in images:
            raise ValueError(f"image ids: expected unique ids, got {image_id} twice")
        path = PurePosixPath(str(file_name))
        if not isinstance(file_name, str) or path.is_absolute() or ".." in path.parts or file_name in seen:
            raise ValueError(f"image {image_id}: expected a unique relative file_name, got {file_name!r}")
        for key in ("width", "height"):
            if not isinstance(image.get(key), int) or image[key] <= 0:
                raise ValueError(f"image {image_id}: expected a positive integer {key}, got {image.get(key)!r}")
        images[image_id] = image
        seen.add(file_name)
    return images


def _category_classes(coco: dict[str, Any]) -> tuple[dict[int, int], list[str]]:
    categories = sorted(coco.get("categories", []), key=lambda c: c["id"])
    ids = [c["id"] for c in categories]
    if len(set(ids)) != len(ids):
        raise ValueError(f"categories: expected unique ids, got {ids}")
    return {c["id"]: index for index, c in enumerate(categories)}, [str(c["name"]) for c in categories]


def _yolo_line(ann: dict[str, Any], class_id: int, width: int, height: int) -> str:
    bbox: Any = ann.get("bbox")
    values = list(bbox) if isinstance(bbox, list | tuple) else []
    numbers = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if len(values) != 4 or len(numbers) != 4 or not all(math.isfinite(v) for v in numbers):
        raise ValueError(f"annotation {ann.get('id')}: expected bbox [x, y, w, h] of 4 finite numbers, got {bbox!r}")
    x, y, w, h = numbers
    if w <= 0 or h <= 0:
        raise ValueError(f"annotation {ann.get('id')}: expected a bbox of positive width and height, got {bbox}")
    x1, x2 = _clip(x / width), _clip((x + w) / width)
    y1, y2 = _clip(y / height), _clip((y + h) / height)
    if x2 <= x1 or y2 <= y1:
        raise ValueError(f"annotation {ann.get('id')}: expected a bbox inside the {width}x{height} image, got {bbox}")
    return f"{class_id} {(x1 + x2) / 2:.6f} {(y1 + y2) / 2:.6f} {x2 - x1:.6f} {y2 - y1:.6f}"


def _clip(value: float) -> float:
    if value < -EDGE_TOLERANCE:
        return 0.0
    if value > 1.0 + EDGE_TOLERANCE:
        return 1.0
    return value


def _merged_data_yaml(root: Path, split: str, names: list[str]) -> dict[str, Any]:
    path = root / "data.yaml"
    data: dict[str, Any] = {}
    if path.is_file():
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        data = loaded if isinstance(loaded, dict) else {}
        if "names" in data and list(_parse_names(data["names"], str(path)).values()) != names:
            raise ValueError(f"{path}: expected names {names} to match the COCO categories, got {data['names']}")
    for key in dict.fromkeys(("train", "val", split)):
        data.setdefault(key, f"images/{key}")
    data["names"] = dict(enumerate(names))
    return data


def write_coco(coco: dict[str, Any], path: Path) -> None:
    """Write a COCO dict as UTF-8 JSON (indent 2, non-ASCII kept as is), creating the parent folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(coco, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def read_coco(path: Path) -> dict[str, Any]:
    """Read a COCO JSON file; `ValueError` unless it holds a JSON object."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(
            f"{path}: expected a JSON object with images/annotations/categories, got {type(data).__name__}"
        )
    return data
