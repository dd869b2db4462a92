"""`SightingRecord`: a sighting as it crosses the wire, the one type for the edge's JSON lines, the outbox and the
server's ingest.

`vision.sightings.Sighting.to_record()` makes one; `to_json()` writes it (what `inspect` writes to
sightings.jsonl and the outbox stores and sends); the server's ingest validates what it is sent as a
`SightingRecord` (plus its own check that the class is one of the taxonomy's). Fields the other side does not use
(the evidence's path on the device, the confidences of each frame) travel along and are ignored there.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from vision.wire import INT32_MAX, Box, Heading, Label, Latitude, Longitude, Metres, Score, UnixTime


class EvidenceRecord(BaseModel):
    """An evidence file by its sha256 (and where the device keeps it)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")
    path: str = Field(default="", max_length=4096, description="on the device; the server does not use it")


class LocationRecord(BaseModel):
    """Where the car was (or, projected ahead, what it saw) at the evidence frame."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    lat: Latitude
    lon: Longitude
    heading_deg: Heading | None = None
    projected_m: Metres = 0.0


class SightingRecord(BaseModel):
    """One physical object seen on one pass, with its evidence's hashes, as a device sends it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    sighting_id: str = Field(min_length=1, max_length=200)
    class_name: str = Field(max_length=200)
    score: Score = Field(description="median confidence over the track")
    frames: int = Field(ge=1, le=INT32_MAX, description="confirming frames")
    first_time: UnixTime
    last_time: UnixTime
    best_time: UnixTime
    box: Box = Field(description="in the evidence frame, pixels x1, y1, x2, y2")
    frame: EvidenceRecord
    crop: EvidenceRecord
    location: LocationRecord | None = None
    source: Label = ""
    confidences: tuple[Score, ...] = Field(default=(), max_length=100_000, description="per confirming frame")
    run: str = Field(default="", max_length=200, description="the device's name for its patrol run, if any")
    model: Label = Field(default="", description="name@version of the model that produced it")
