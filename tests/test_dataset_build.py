from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import cv2
import pytest
import yaml
from typer.testing import CliRunner

from datasets.build import build_dataset
from datasets.manifest import read_manifest
from streetwatch.cli import app
from tests.conftest import REPO_ROOT
from tests.factories import make_source_tree, source_config_yaml

SAMPLES = REPO_ROOT / "samples"
FACADE_CLASSES = ["window", "cantilever", "arch", "signboard", "win_ad", "door"]


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, Path]:
    """A datasets folder with three small sources, one exact and one near-duplicate photo across sources."""
    root = tmp_path / "data"
    make_source_tree(root, SAMPLES, "garbage-cn", "cn")
    street = make_source_tree(root, SAMPLES, "garbage-street", "street")
    fac = make_source_tree(root, SAMPLES, "facades-spb", "fac")
    cn_train = sorted((root / "cn" / "images" / "train").glob("*.jpg"))
    shutil.copyfile(cn_train[0], street / "images" / "train" / "copy.jpg")  # same bytes in another source
    (street / "labels" / "train" / "copy.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    image = cv2.imread(str(cn_train[1]))
    near = cv2.resize(image, (image.shape[1] * 9 // 10, image.shape[0] * 9 // 10))
    cv2.imwrite(str(fac / "images" / "val" / "near.jpg"), near, [cv2.IMWRITE_JPEG_QUALITY, 60])  # other split!
    (fac / "labels" / "val" / "near.txt").write_text("")
    configs = tmp_path / "configs"
    configs.mkdir()
    cn_map = {"garbage": "exposed_garbage", "garbage_bin": None, "overflow": "overflowing_bin"}
    (configs / "cn.yaml").write_text(source_config_yaml("cn", ["garbage", "garbage_bin", "overflow"], cn_map))
    (configs / "street.yaml").write_text(source_config_yaml("street", ["garbage"], {"garbage": "exposed_garbage"}))
    (configs / "fac.yaml").write_text(
        source_config_yaml(
            "fac", FACADE_CLASSES, dict.fromkeys(FACADE_CLASSES), "negatives", exclude_images_with=["win_ad"]
        )
    )
    build = tmp_path / "build.yaml"
    sources = [str(configs / f"{name}.yaml") for name in ("cn", "street", "fac")]
    synthetic = [{"generator": "illegal_ad", "backgrounds": "fac", "per_background": 2}]
    build.write_text(
        yaml.safe_dump({"name": "test-v1", "parent": "none-v0", "seed": 3, "sources": sources, "synthetic": synthetic})
    )
    return root, build


def test_build_writes_a_versioned_yolo_dataset_with_a_verifiable_manifest(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, config = world
    target, manifest = build_dataset(config, tmp_path / "out", root)
    assert target == tmp_path / "out" / "test-v1" and manifest.parent == "none-v0"
    assert manifest.duplicates_dropped == 2
    report = json.loads((target / "import_report.json").read_text())
    assert {Path(d["dropped"]).name for d in report["cross_source_duplicates"]} == {"copy.jpg", "near.jpg"}
    assert len(report["fac"]["excluded"]) == 2  # facade samples with posters in windows
    for entry in manifest.entries:
        assert hashlib.sha256((target / entry.image).read_bytes()).hexdigest() == entry.image_sha256
        assert hashlib.sha256((target / entry.label).read_bytes()).hexdigest() == entry.label_sha256
        lines = (target / entry.label).read_text().splitlines()
        assert len(lines) == sum(entry.boxes.values())
    real = [e for e in manifest.entries if not e.source.startswith("synthetic/")]
    assert len(real) == 8 + 8 + 6
    counts = manifest.counts()
    assert counts["train"]["images"] + counts["val"]["images"] == len(manifest.entries)
    assert counts["train"]["negatives"] >= 4  # facades, plus bins-only photos whose normal bins were dropped
    data = yaml.safe_load((target / "data.yaml").read_text())
    assert data["names"][1] == "overflowing_bin" and data["train"] == "images/train" and "path" not in data


def test_no_photo_is_in_two_splits(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, config = world
    _, manifest = build_dataset(config, tmp_path / "out", root)
    split_of: dict[str, str] = {}
    for entry in manifest.entries:
        for key in (entry.image_sha256, f"{entry.source}/{entry.source_image}"):
            assert split_of.setdefault(key, entry.split) == entry.split, key


def test_same_config_gives_a_byte_identical_manifest(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, config = world
    first, _ = build_dataset(config, tmp_path / "a", root)
    second, _ = build_dataset(config, tmp_path / "b", root)
    assert (first / "manifest.json").read_bytes() == (second / "manifest.json").read_bytes()


def test_a_version_is_never_overwritten(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, config = world
    build_dataset(config, tmp_path / "out", root)
    with pytest.raises(FileExistsError, match="already exists; versions are immutable"):
        build_dataset(config, tmp_path / "out", root)


def test_stats_and_preview_commands(world, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    root, config = world
    monkeypatch.setenv("STREETWATCH_DATASETS_DIR", str(root))
    runner = CliRunner()
    built = runner.invoke(app, ["dataset", "build", str(config), "--out", str(tmp_path / "out")])
    assert built.exit_code == 0, built.output
    dataset = tmp_path / "out" / "test-v1"
    stats = runner.invoke(app, ["dataset", "stats", str(dataset)])
    assert stats.exit_code == 0 and "split | illegal_ad | overflowing_bin" in stats.output
    assert "cn | train | 6" in stats.output and "cross-source duplicates dropped: 2" in stats.output
    sheet = tmp_path / "sheet.png"
    preview = runner.invoke(
        app, ["dataset", "preview", str(dataset), "--out", str(sheet), "--count", "6", "--class", "overflowing_bin"]
    )
    assert preview.exit_code == 0, preview.output
    image = cv2.imread(str(sheet))
    assert image.shape == (2 * 240, 4 * 320, 3)
    missing = runner.invoke(app, ["dataset", "preview", str(dataset), "--class", "street_stall"])
    assert missing.exit_code == 2 and "no image in" in missing.output
    not_a_dataset = runner.invoke(app, ["dataset", "stats", str(tmp_path)])
    assert not_a_dataset.exit_code == 2 and "has no manifest.json" in not_a_dataset.output


@pytest.mark.skipif(not (REPO_ROOT.parent / "shared" / "datasets").is_dir(), reason="needs the shared datasets folder")
def test_the_default_config_builds_from_the_real_datasets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREETWATCH_DATASETS_DIR", str(REPO_ROOT.parent / "shared" / "datasets"))
    # exactly the README's command (it also hands the generators the COCO model to keep ads off people and cars)
    config = REPO_ROOT / "datasets" / "config" / "default.yaml"
    built = CliRunner().invoke(app, ["dataset", "build", str(config), "--out", str(tmp_path)])
    assert built.exit_code == 0, built.output
    folder = tmp_path / "base-v2"
    manifest = read_manifest(folder)
    counts = manifest.counts()
    # the mapping of the source READMEs: overflow -> overflowing_bin, garbage -> exposed_garbage, bins dropped
    assert counts["train"]["overflowing_bin"] == 2736 and counts["val"]["overflowing_bin"] == 314
    assert counts["train"]["exposed_garbage"] == 1459 + 841 and counts["val"]["exposed_garbage"] == 169 + 77
    assert manifest.import_issues == 0
    sources = {e.source for e in manifest.entries}
    real = {"garbage-cn", "garbage-street", "facades-spb"}
    assert sources == real | {"synthetic/illegal_ad", "synthetic/dirty_facade", "synthetic/street_stall"}
    assert counts["train"]["illegal_ad"] > 500 and counts["val"]["illegal_ad"] > 50
    assert counts["train"]["street_stall"] > 300 and counts["val"]["street_stall"] > 30
    assert counts["train"]["dirty_facade"] > 200 and counts["val"]["dirty_facade"] > 10
    assert len({e.image_sha256 for e in manifest.entries}) == len(manifest.entries)
    # the version reproduces byte for byte under the lock (datasets/config/manifests.yaml says which libraries move it)
    recorded = yaml.safe_load((REPO_ROOT / "datasets" / "config" / "manifests.yaml").read_text())["default.yaml"]
    digest = hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest()
    assert digest == recorded, f"base-v2 rebuilt with manifest {digest}, recorded {recorded}: compare per-file hashes"


def test_synthetic_ads_stay_in_their_photos_split_and_record_what_they_placed(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, config = world
    target, manifest = build_dataset(config, tmp_path / "out", root)
    real_split = {e.source_image: e.split for e in manifest.entries if not e.source.startswith("synthetic/")}
    made = [e for e in manifest.entries if e.source == "synthetic/illegal_ad"]
    assert 6 <= len(made) <= 12  # up to two per facade photo; none where no wall is free
    records = {r["image"]: r for r in map(json.loads, (target / "synthetic.jsonl").read_text().splitlines())}
    assert records.keys() == {e.image for e in made}
    for entry in made:
        assert entry.split == real_split[entry.source_image]  # no derivative in another split than its photo
        assert entry.license == "derived from fac (CC0 1.0)"
        assert entry.boxes["illegal_ad"] == len(records[entry.image]["placed"]) >= 1


def test_build_without_the_datasets_folder_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREETWATCH_DATASETS_DIR", str(tmp_path / "nowhere"))
    result = CliRunner().invoke(
        app, ["dataset", "build", str(REPO_ROOT / "datasets" / "config" / "default.yaml"), "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "source garbage-cn: folder" in result.output and "does not exist" in result.output
    assert not any(tmp_path.glob("base-v1*")), "nothing half-built may be left behind"
