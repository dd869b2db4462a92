from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from vision.taxonomy import color_for, load_taxonomy


def test_starter_taxonomy_matches_design() -> None:
    taxonomy = load_taxonomy()
    assert taxonomy.names == ("illegal_ad", "overflowing_bin", "exposed_garbage", "street_stall", "dirty_facade")
    assert taxonomy.by_name("exposed_garbage").zh == "暴露垃圾"
    assert taxonomy.by_name("street_stall").category == "街面秩序 — 占道经营"
    assert taxonomy.by_name("illegal_ad").bgr == (0x35, 0x39, 0xE5)


def test_unknown_class_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="known: illegal_ad, overflowing_bin"):
        load_taxonomy().by_name("graffiti")


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("classes:\n  - {name: a, zh: 甲, category: c, color: '#112233', size: 3}\n", "Extra inputs"),
        ("classes:\n  - {name: a, zh: 甲, category: c, color: red}\n", "color"),
        (
            "classes:\n  - {name: a, zh: 甲, category: c, color: '#112233'}\n"
            "  - {name: a, zh: 乙, category: c, color: '#112233'}\n",
            "repeated",
        ),
        ("classes: []\n", "at least 1"),
    ],
)
def test_invalid_taxonomy_is_rejected(tmp_path: Path, body: str, problem: str) -> None:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ValidationError, match=problem):
        load_taxonomy(path)


def test_colours_for_classes_outside_the_taxonomy_are_stable() -> None:
    assert color_for("person") == color_for("person")
    assert color_for("illegal_ad", load_taxonomy()) == (0x35, 0x39, 0xE5)
