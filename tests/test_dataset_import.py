from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from pydantic import ValidationError

from datasets.importers import SourceConfig, import_source, load_source_config
from datasets.yolo import Labels, format_labels, read_labels
from tests.conftest import REPO_ROOT
from tests.factories import make_source_tree, source_config_yaml
from vision.taxonomy import load_taxonomy

SAMPLES = REPO_ROOT / "samples"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("3 0.5 0.5 0.1 0.1", "class id 3 out of range 0..2"),
        ("-1 0.5 0.5 0.1 0.1", "class id -1 out of range"),
        ("1.5 0.5 0.5 0.1 0.1", "class id 1.5 out of range"),
        ("0 1.2 0.5 0.1 0.1", "coordinates outside [0, 1]"),
        ("0 0.5 -0.1 0.1 0.1", "coordinates outside [0, 1]"),
        ("0 0.5 0.5 0 0.1", "box of zero size"),
        ("0 0.5 0.5 0.1", "expected 5 numbers"),
        ("0 0.5 0.5 0.1 0.1 0.9", "expected 5 numbers"),
        ("0 0.5 abc 0.1 0.1", "not a number"),
    ],
)
def test_broken_label_lines_are_dropped_with_a_reason(tmp_path: Path, line: str, reason: str) -> None:
    path = tmp_path / "a.txt"
    path.write_text(f"1 0.25 0.25 0.1 0.2\n{line}\n", encoding="utf-8")
    labels, issues = read_labels(path, num_classes=3)
    assert labels.class_ids.tolist() == [1]
    assert len(issues) == 1 and issues[0].line == 2 and reason in issues[0].reason
    assert issues[0].action == "line dropped"


def test_label_text_round_trips(tmp_path: Path) -> None:
    text = "0 0.500000 0.250000 0.100000 0.200000\n2 0.900000 0.900000 0.050000 0.050000\n"
    path = tmp_path / "a.txt"
    path.write_text(text, encoding="utf-8")
    labels, issues = read_labels(path, 3)
    assert not issues and format_labels(labels) == text
    assert format_labels(Labels.empty()) == ""


def test_shipped_source_configs_load_and_map_onto_the_taxonomy() -> None:
    taxonomy = load_taxonomy()
    for name in ("garbage-cn", "garbage-street", "facades-spb", "patrol-riyadh"):
        config = load_source_config(name)
        assert all(target is None or target in taxonomy.names for target in config.map.values())
        assert config.license and config.attribution and len(config.commit) == 40
    assert load_source_config("garbage-cn").map["garbage_bin"] is None
    assert load_source_config("facades-spb").exclude_images_with == ("win_ad",)
    patrol = load_source_config("patrol-riyadh")
    assert patrol.license == "not stated" and patrol.split is not None  # one folder of frames, split here
    assert patrol.map["GARBAGE"] == "exposed_garbage" and patrol.map["BAD_BILLBOARD"] is None


@pytest.mark.parametrize(
    ("mapping", "role", "message"),
    [
        ({"a": "exposed_garbage"}, "events", "missing \\['b'\\]"),
        ({"a": None, "b": None, "c": None}, "events", "unknown \\['c'\\]"),
        ({"a": "exposed_garbage", "b": None}, "negatives", "must map every class to null"),
    ],
)
def test_bad_source_configs_are_refused(
    tmp_path: Path, mapping: dict[str, str | None], role: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(source_config_yaml("bad", ["a", "b"], mapping, role), encoding="utf-8")
    with pytest.raises(ValidationError, match=message):
        load_source_config(path)


def test_unknown_source_name_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known: facades-spb, garbage-cn, garbage-street"):
        load_source_config("nope")


def _cn_config(tmp_path: Path, **extra) -> SourceConfig:  # type: ignore[no-untyped-def]
    path = tmp_path / "cn.yaml"
    mapping = {"garbage": "exposed_garbage", "garbage_bin": None, "overflow": "overflowing_bin"}
    path.write_text(source_config_yaml("cn", ["garbage", "garbage_bin", "overflow"], mapping, **extra))
    return load_source_config(path)


def test_import_maps_classes_drops_normal_bins_and_reports_every_problem(tmp_path: Path) -> None:
    root = tmp_path / "data"
    folder = make_source_tree(root, SAMPLES, "garbage-cn", "cn")
    train_images = folder / "images" / "train"
    (train_images / "notes.txt").write_text("not a photo")
    (train_images / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    (folder / "labels" / "train" / "broken.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    unlabelled = sorted(train_images.glob("garbage-cn__*.jpg"))[0]
    (folder / "labels" / "train" / f"{unlabelled.stem}.txt").unlink()
    bad_line = sorted(train_images.glob("garbage-cn__*.jpg"))[1]
    with (folder / "labels" / "train" / f"{bad_line.stem}.txt").open("a") as handle:
        handle.write("7 0.5 0.5 0.1 0.1\n")

    result = import_source(_cn_config(tmp_path), load_taxonomy(), root)

    reasons = {(Path(i.file).name, i.reason) for i in result.issues}
    assert ("notes.txt", "not an image file") in reasons
    assert ("broken.jpg", "image cannot be decoded") in reasons
    assert (unlabelled.name, f"no label file {unlabelled.stem}.txt") in reasons
    assert any(name == f"{bad_line.stem}.txt" and "class id 7" in reason for name, reason in reasons)
    assert len(result.examples) == 8 - 1  # the photo without labels is not kept as a negative
    taxonomy = load_taxonomy()
    kept_classes = {taxonomy.names[c] for e in result.examples for c in e.labels.class_ids}
    assert kept_classes <= {"exposed_garbage", "overflowing_bin"} and "overflowing_bin" in kept_classes
    assert result.dropped_boxes["garbage_bin"] > 0
    assert {e.split for e in result.examples} == {"train", "val"}


def test_negatives_source_excludes_images_with_posters(tmp_path: Path) -> None:
    root = tmp_path / "data"
    make_source_tree(root, SAMPLES, "facades-spb", "fac")
    path = tmp_path / "fac.yaml"
    classes = ["window", "cantilever", "arch", "signboard", "win_ad", "door"]
    path.write_text(
        source_config_yaml("fac", classes, dict.fromkeys(classes), "negatives", exclude_images_with=["win_ad"])
    )
    result = import_source(load_source_config(path), load_taxonomy(), root)
    excluded = sorted(Path(p).stem for p in result.excluded)
    assert excluded == ["facades-spb__img_14", "facades-spb__img_73"]  # the two samples with win_ad boxes
    assert len(result.examples) == 6 and all(len(e.labels.class_ids) == 0 for e in result.examples)


def test_missing_source_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"source cn: folder .* does not exist"):
        import_source(_cn_config(tmp_path), load_taxonomy(), tmp_path / "nowhere")


def test_pixel_boxes_round_trip_through_labels() -> None:
    xyxy = np.array([[10, 20, 50, 80], [0, 0, 640, 480]], np.float64)
    labels = Labels.from_xyxy(xyxy, [2, 0], 640, 480)
    np.testing.assert_allclose(labels.boxes[0], [30 / 640, 50 / 480, 40 / 640, 60 / 480])
    assert labels.class_ids.tolist() == [2, 0]
    np.testing.assert_allclose(labels.xyxy(640, 480), xyxy)
    assert Labels.empty().xyxy(640, 480).shape == (0, 4)


def _patrol_tree(root: Path, frames: int = 10) -> Path:
    """A one-folder source (images/, labels/) of wide frames made from the bundled photos, with twins."""
    folder = root / "patrol"
    (folder / "images").mkdir(parents=True)
    (folder / "labels").mkdir()
    photos = sorted((SAMPLES / "images").glob("*.jpg"))[:frames]
    for index, photo in enumerate(photos):
        image = cv2.resize(cv2.imread(str(photo)), (512, 288))
        cv2.imwrite(str(folder / "images" / f"f{index:02d}.jpg"), image)
        (folder / "labels" / f"f{index:02d}.txt").write_text(f"{index % 3} 0.5 0.5 0.2 0.2\n")
        if index < 3:  # the next frame of the drive: the same scene, shifted by a few pixels and a little brighter
            twin = cv2.convertScaleAbs(np.roll(image, 6, axis=1), alpha=1.05, beta=4)
            cv2.imwrite(str(folder / "images" / f"f{index:02d}b.jpg"), twin)
            (folder / "labels" / f"f{index:02d}b.txt").write_text(f"{index % 3} 0.51 0.5 0.2 0.2\n")
    return folder


def _patrol_config(tmp_path: Path, val_fraction: float = 0.4) -> SourceConfig:
    path = tmp_path / "patrol.yaml"
    mapping = {"litter": "exposed_garbage", "graffiti": "dirty_facade", "sign": None}
    split = {"val_fraction": val_fraction, "similarity": 0.85}
    path.write_text(source_config_yaml("patrol", ["litter", "graffiti", "sign"], mapping, split=split))
    return load_source_config(path)


def test_a_one_folder_source_is_split_in_whole_groups_of_near_identical_frames(tmp_path: Path) -> None:
    root = tmp_path / "data"
    _patrol_tree(root)
    result = import_source(_patrol_config(tmp_path), load_taxonomy(), root)

    splits = {e.image.stem: e.split for e in result.examples}
    assert len(splits) == 13 and not result.issues
    assert all(splits[f"f{i:02d}"] == splits[f"f{i:02d}b"] for i in range(3))  # twins never straddle
    assert 4 <= sum(split == "val" for split in splits.values()) <= 7  # 40 % of 13, whole groups at a time
    assert {e.source_image for e in result.examples} == {f"patrol/images/{stem}.jpg" for stem in splits}
    again = import_source(_patrol_config(tmp_path), load_taxonomy(), root)
    assert {e.image.stem: e.split for e in again.examples} == splits  # the same split every time
    shuffled = import_source(_patrol_config(tmp_path, 0.2), load_taxonomy(), root)
    assert {s for s in splits if splits[s] == "val"} >= {e.image.stem for e in shuffled.examples if e.split == "val"}


def test_a_one_folder_source_refuses_malformed_rows_with_a_clear_report(tmp_path: Path) -> None:
    root = tmp_path / "data"
    folder = _patrol_tree(root, frames=4)
    (folder / "labels" / "f00.txt").write_text(
        "0 0.5 0.5 0.2 0.2\n9 0.5 0.5 0.1 0.1\n1 0.5 0.5 0.2\n2 1.4 0.5 0.1 0.1\n"
    )
    (folder / "labels" / "f01.txt").unlink()
    (folder / "images" / "f02.jpg").write_bytes(b"\xff\xd8\xff not a frame")

    result = import_source(_patrol_config(tmp_path), load_taxonomy(), root)

    report = sorted(str(issue) for issue in result.issues)
    assert report == [
        f"{folder / 'images' / 'f01.jpg'}: no label file f01.txt (image skipped)",
        f"{folder / 'images' / 'f02.jpg'}: image cannot be decoded (image skipped)",
        f"{folder / 'labels' / 'f00.txt'}:2: class id 9 out of range 0..2 (line dropped)",
        f"{folder / 'labels' / 'f00.txt'}:3: expected 5 numbers (class cx cy w h), got 4 (line dropped)",
        f"{folder / 'labels' / 'f00.txt'}:4: coordinates outside [0, 1]: 1.4 0.5 0.1 0.1 (line dropped)",
    ]
    kept = {e.image.stem: e for e in result.examples}
    assert set(kept) == {"f00", "f00b", "f01b", "f02b", "f03"}
    assert len(kept["f00"].labels.class_ids) == 1  # the good row of a file with bad ones stays


def test_a_one_folder_source_without_images_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "data" / "patrol").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"source patrol: folder .*images does not exist"):
        import_source(_patrol_config(tmp_path), load_taxonomy(), tmp_path / "data")


def test_relabels_change_single_boxes_and_report_the_ones_that_match_nothing(tmp_path: Path) -> None:
    root = tmp_path / "data"
    folder = _patrol_tree(root, frames=4)
    (folder / "labels" / "f00.txt").write_text("1 0.300000 0.400000 0.1 0.1\n1 0.700000 0.400000 0.1 0.1\n")
    path = tmp_path / "patrol.yaml"
    mapping = {"litter": "exposed_garbage", "graffiti": "dirty_facade", "sign": None}
    relabel = [
        {"image": "f00.jpg", "from": "graffiti", "centre": [0.7, 0.4], "to": "illegal_ad"},  # a phone-number ad
        {"image": "f00.jpg", "from": "graffiti", "centre": [0.5, 0.5], "to": "illegal_ad"},  # no such box
        {"image": "f01.jpg", "from": "litter", "centre": [0.5, 0.5], "to": None},  # f01's box is class 1
    ]
    text = source_config_yaml(
        "patrol", ["litter", "graffiti", "sign"], mapping, relabel=relabel, split={"val_fraction": 0.3}
    )
    path.write_text(text)

    result = import_source(load_source_config(path), load_taxonomy(), root)

    taxonomy = load_taxonomy()
    f00 = next(e for e in result.examples if e.image.stem == "f00")
    assert [taxonomy.names[c] for c in f00.labels.class_ids] == ["dirty_facade", "illegal_ad"]
    assert result.relabelled == {"graffiti -> illegal_ad": 1}
    assert sorted(str(i).split("/")[-1] for i in result.issues) == [
        "f00.jpg: relabel: 0 boxes match the graffiti box at (0.5, 0.5) (relabel skipped)",
        "f01.jpg: relabel: 0 boxes match the litter box at (0.5, 0.5) (relabel skipped)",
    ]


def test_relabels_must_name_source_and_taxonomy_classes(tmp_path: Path) -> None:
    mapping = {"litter": "exposed_garbage"}
    bad_source = [{"image": "a.jpg", "from": "graffiti", "centre": [0.5, 0.5], "to": "illegal_ad"}]
    with pytest.raises(ValidationError, match=r"unknown \['graffiti'\]"):
        SourceConfig.model_validate(yaml.safe_load(source_config_yaml("p", ["litter"], mapping, relabel=bad_source)))
    (tmp_path / "p" / "images" / "train").mkdir(parents=True)
    bad_target = [{"image": "a.jpg", "from": "litter", "centre": [0.5, 0.5], "to": "pothole"}]
    config = SourceConfig.model_validate(
        yaml.safe_load(source_config_yaml("p", ["litter"], mapping, relabel=bad_target))
    )
    with pytest.raises(ValueError, match=r"source p: \['pothole'\] are not taxonomy classes"):
        import_source(config, load_taxonomy(), tmp_path)
