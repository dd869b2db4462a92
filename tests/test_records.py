"""One wire type for a sighting (issue 20, item 4): what the edge writes is what the server validates."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from inference_server.ingest import SightingIn
from tests.test_outbox import make_sightings
from vision.records import SightingRecord


def test_the_edge_writes_what_the_server_validates(tmp_path: Path) -> None:
    sighting = make_sightings(tmp_path, 1)[0]
    text = sighting.to_json()  # a line of sightings.jsonl, an outbox row, an ingest request's metadata
    record = SightingRecord.model_validate_json(text)
    received = SightingIn.model_validate_json(text)
    assert received.model_dump() == record.model_dump() == sighting.to_record().model_dump()
    assert record.frame.sha256 == sighting.frame.sha256 and record.frame.path == sighting.frame.path
    assert set(json.loads(text)) == set(SightingRecord.model_fields)


@pytest.mark.parametrize(
    "change",
    [{"score": float("nan")}, {"best_time": float("inf")}, {"box": (0.0, 0.0, 1e308, 1.0)}, {"source": "s" * 201}],
)
def test_an_unbounded_sighting_is_refused_on_the_edge_before_it_is_queued(
    tmp_path: Path, change: dict[str, object]
) -> None:
    sighting = dataclasses.replace(make_sightings(tmp_path, 1)[0], **change)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        sighting.to_json()


def test_the_server_adds_only_its_taxonomy_check(tmp_path: Path) -> None:
    text = make_sightings(tmp_path, 1)[0].to_json()
    other = json.dumps({**json.loads(text), "class_name": "parking"})
    assert SightingRecord.model_validate_json(other).class_name == "parking"  # any name on the wire
    with pytest.raises(ValidationError, match="unknown class 'parking'"):
        SightingIn.model_validate_json(other)
