"""Storing what devices send: one sighting, a batch of them, or the sightings the server's detector finds in a frame.

Each sighting is keyed by (device, idempotency key): a retry of a stored key gets the stored row back, the same key
with different metadata is refused (`KeyReused`). Evidence files are written first, then the rows, so a crash in
between leaves content-addressed files a retry reuses. When a concurrent request commits the same key a moment
earlier, the loser answers as a retry would. Only the HTTP layer (`routes.sightings`, `routes.frames`) turns the
errors into status codes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from inference_server import runs
from inference_server.evidence import EvidenceError, Part, check_evidence, check_part, store, store_many
from inference_server.geo import Area, locate
from inference_server.metrics import Metrics
from inference_server.models_api import ServedModel
from inference_server.settings import Settings
from inference_server.tables import Sighting, SightingPublic, VideoJob
from inference_server.videos import SaveSighting
from vision.images import ImageLimits
from vision.records import SightingRecord
from vision.sightings import Sighting as SeenSighting
from vision.sightings import crop_box
from vision.taxonomy import load_taxonomy
from vision.wire import Heading, Latitude, Longitude, UnixTime

MAX_BATCH = 100  # sightings per batch request; the request's byte limit applies too
REUSED = "this key was used for a different sighting"


class SightingIn(SightingRecord):
    """The `metadata` part of an ingest request: a `SightingRecord` (what the edge writes) of a taxonomy class."""

    @field_validator("class_name")
    @classmethod
    def _known_class(cls, value: str) -> str:
        names = load_taxonomy().names
        if value not in names:
            raise ValueError(f"unknown class {value!r}; known: {', '.join(names)}")
        return value


class FrameIn(BaseModel):
    """The `metadata` of a raw frame."""

    model_config = ConfigDict(extra="ignore")
    time: UnixTime
    lat: Latitude | None = None
    lon: Longitude | None = None
    heading_deg: Heading | None = None


class BatchItemOut(BaseModel):
    """One sighting's answer in a batch: 201 stored, 200 already stored (a retry), 409 key reused, 422 refused."""

    key: str
    status: int
    error: str | None = None
    sighting: SightingPublic | None = None


class KeyReused(ValueError):
    """An idempotency key sent again with different metadata."""


@dataclass(frozen=True)
class Sent:
    """One sighting as a device sent it: who, under which key, its metadata as sent and as parsed."""

    device_id: int
    key: str
    metadata: str
    record: SightingIn


@dataclass(frozen=True)
class Saved:
    """The stored row, and whether this request stored it (False: a retry of a stored key)."""

    row: Sighting
    created: bool


@dataclass(frozen=True)
class Shot:
    """A raw frame a device sent: who, under which key, its metadata as sent and as parsed, its pixels."""

    device_id: int
    key: str
    metadata: str
    meta: FrameIn
    pixels: npt.NDArray[Any]


def canonical_digest(metadata: Any) -> str:
    """sha256 of a sighting's metadata in canonical JSON: a retry matches whether it came alone or in a batch."""
    canonical = json.dumps(metadata, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def frame_rows(s: Session, device_id: int, idempotency_key: str) -> list[Sighting]:
    """The rows of one frame `device_id` posted: `<key>#<index>` per sighting, or `<key>#none` when it held none.

    Matched exactly (a prefix compared as a string, then the suffix checked), never with `LIKE`: a client's key
    may hold `%` or `_`, or end in `#1` so that another key is its prefix.
    """
    prefix = f"{idempotency_key}#"
    near = select(Sighting).where(
        Sighting.device_id == device_id, func.substr(col(Sighting.idempotency_key), 1, len(prefix)) == prefix
    )
    rows = s.exec(near).all()
    return [r for r in rows if (rest := r.idempotency_key[len(prefix) :]) == "none" or rest.isdecimal()]


def found_in_frame(rows: list[Sighting]) -> list[Sighting]:
    """A frame's rows without the marker of a frame that held nothing."""
    return [r for r in rows if not r.idempotency_key.endswith("#none")]


def _repeat(existing: Sighting, metadata_sha: str) -> Saved:
    if existing.metadata_sha256 != metadata_sha:
        raise KeyReused(f"idempotency key {existing.idempotency_key!r} was used for a different sighting")
    return Saved(existing, created=False)


def _keyed(device_id: int, key: str) -> Any:
    return select(Sighting).where(Sighting.device_id == device_id, Sighting.idempotency_key == key)


@dataclass(frozen=True)
class Intake:
    """What storing sightings needs of the app: its settings, image limits, areas, run ids, engine and metrics."""

    settings: Settings
    limits: ImageLimits
    areas: list[Area]
    run_ids: runs.RunIds
    engine: Engine
    metrics: Metrics

    def save_one(self, s: Session, sent: Sent, frame: Any, crop: Any) -> Saved:
        """Store one sighting (evidence first, then the row); a repeat of its key gets the stored one.

        `frame` and `crop` are bytes or uploaded files (read only up to the evidence limit). Raises `KeyReused`
        for a key stored with other metadata, `EvidenceError` for evidence that does not match or decode.
        """
        metadata_sha = canonical_digest(json.loads(sent.metadata))
        existing = s.exec(_keyed(sent.device_id, sent.key)).first()
        if existing is not None:
            return _repeat(existing, metadata_sha)
        limits, record = self.limits, sent.record
        frame_bytes = frame if isinstance(frame, bytes) else Part.of(frame).read_within(limits.max_bytes, "frame")
        crop_bytes = crop if isinstance(crop, bytes) else Part.of(crop).read_within(limits.max_bytes, "crop")
        frame_sha = check_evidence(frame_bytes, record.frame.sha256, "frame", limits)
        crop_sha = check_evidence(crop_bytes, record.crop.sha256, "crop", limits)
        # files first, then the row: a crash in between leaves content-addressed files a retry reuses
        store(self.settings.evidence_dir, frame_sha, frame_bytes)
        store(self.settings.evidence_dir, crop_sha, crop_bytes)
        row = self.sighting_row(record, sent.key, metadata_sha, sent.device_id)
        if record.run:
            row.run_id = self.run_ids.get(self.engine, sent.device_id, record.run)
            runs.count_sightings(s, row.run_id, [record.best_time])
        s.add(row)
        try:
            s.commit()
        except IntegrityError:  # the same key committed by a concurrent request a moment ago
            s.rollback()
            return _repeat(s.exec(_keyed(sent.device_id, sent.key)).one(), metadata_sha)
        s.refresh(row)
        self.metrics.ingested.labels(class_name=row.class_name).inc()
        return Saved(row, created=True)

    def sighting_row(self, record: SightingIn, key: str, metadata_sha: str, device_id: int) -> Sighting:
        """The row of a sent sighting, with the district and street its location falls in."""
        location = record.location
        district, street = locate(self.areas, location.lat if location else None, location.lon if location else None)
        return Sighting(
            idempotency_key=key, metadata_sha256=metadata_sha, device_id=device_id,
            class_name=record.class_name, score=record.score, frames=record.frames, first_time=record.first_time,
            last_time=record.last_time, best_time=record.best_time, box=list(record.box),
            lat=location.lat if location else None, lon=location.lon if location else None,
            heading_deg=location.heading_deg if location else None, model=record.model, source=record.source,
            frame_sha256=record.frame.sha256.lower(), crop_sha256=record.crop.sha256.lower(), district=district,
            street=street,
        )  # fmt: skip

    def save_batch(self, s: Session, device_id: int, raw: list[Any], files: Mapping[str, Part]) -> list[BatchItemOut]:
        """Many sightings of one device at once, one answer each (see `BatchItemOut`).

        Accepted ones are committed together after all their evidence is on disk, so a crash leaves each of them
        wholly stored or not at all.
        """
        answers, accepted, checked = _sort_batch(self, s, device_id, raw, files)
        store_many(self.settings.evidence_dir, {sha: files[sha] for sha in checked})
        if not accepted:
            return answers
        per_run: dict[int, list[float]] = {}
        for _, record, row in accepted:
            if record.run:
                row.run_id = self.run_ids.get(self.engine, device_id, record.run)
                per_run.setdefault(row.run_id, []).append(record.best_time)
        for run_id, times in per_run.items():
            runs.count_sightings(s, run_id, times)
        s.add_all(row for _, _, row in accepted)
        s.expire_on_commit = False  # the rows hold what was written (ids from the insert): no re-reads
        try:
            s.commit()
        except IntegrityError:  # a concurrent request stored some of these keys: one at a time instead
            s.rollback()
            self._one_by_one(s, [(answer, row) for answer, _, row in accepted])
            return answers  # every sighting's answer, the ones refused before included
        for answer, _, row in accepted:
            answer.status, answer.sighting = 201, SightingPublic.model_validate(row)
            self.metrics.ingested.labels(class_name=row.class_name).inc()
        return answers

    def _one_by_one(self, s: Session, accepted: list[tuple[BatchItemOut, Sighting]]) -> None:
        """After a batch's commit lost a race on some keys: each sighting on its own, as a single post would; its
        answer is set in place."""
        for answer, row in accepted:
            fresh = Sighting.model_validate(row.model_dump(exclude={"id"}))
            if fresh.run_id is not None:
                runs.count_sightings(s, fresh.run_id, [fresh.best_time])
            s.add(fresh)
            try:
                s.commit()
            except IntegrityError:
                s.rollback()
                winner = s.exec(_keyed(row.device_id, row.idempotency_key)).one()
                same = winner.metadata_sha256 == row.metadata_sha256
                answer.status = 200 if same else 409
                answer.sighting = SightingPublic.model_validate(winner) if same else None
                answer.error = None if same else REUSED
                continue
            s.refresh(fresh)
            answer.status, answer.sighting = 201, SightingPublic.model_validate(fresh)
            self.metrics.ingested.labels(class_name=fresh.class_name).inc()

    def save_frame(self, s: Session, shot: Shot, served: ServedModel) -> list[Sighting]:
        """Run the served detector on a frame; each detection of a taxonomy class above the review threshold
        becomes a sighting. A frame with none is remembered too, so that a retry is answered the same."""
        detector, model_reference = served.current()  # the pair: a swap mid-request cannot mislabel its sightings
        found = detector.detect(shot.pixels)
        names, known = detector.class_names, set(load_taxonomy().names)
        meta, evidence_dir = shot.meta, self.settings.evidence_dir
        district, street = locate(self.areas, meta.lat, meta.lon)
        metadata_sha = hashlib.sha256(shot.metadata.encode()).hexdigest()
        rows = []
        frame_bytes = _jpeg(shot.pixels)  # one untouched frame shared by all its sightings; boxes are numbers
        for index in range(len(found)):
            name = names[int(found.class_id[index])]
            if name not in known or found.confidence[index] < self.settings.review_threshold:
                continue
            box = [float(v) for v in found.xyxy[index]]
            crop_bytes = _jpeg(crop_box(shot.pixels, (box[0], box[1], box[2], box[3])))
            frame_sha, crop_sha = hashlib.sha256(frame_bytes).hexdigest(), hashlib.sha256(crop_bytes).hexdigest()
            store(evidence_dir, frame_sha, frame_bytes)
            store(evidence_dir, crop_sha, crop_bytes)
            rows.append(Sighting(
                idempotency_key=f"{shot.key}#{index}", metadata_sha256=metadata_sha,
                device_id=shot.device_id, class_name=name, score=float(found.confidence[index]), frames=1,
                first_time=meta.time, last_time=meta.time, best_time=meta.time, box=box, lat=meta.lat, lon=meta.lon,
                heading_deg=meta.heading_deg, model=model_reference, source="server detector",
                frame_sha256=frame_sha, crop_sha256=crop_sha, district=district, street=street,
            ))  # fmt: skip
        s.add_all(rows or [_empty_frame(shot)])
        try:
            s.commit()
        except IntegrityError:
            s.rollback()
            return found_in_frame(frame_rows(s, shot.device_id, shot.key))
        for row in rows:
            s.refresh(row)
            self.metrics.ingested.labels(class_name=row.class_name).inc()
        return rows

    def video_saver(self) -> SaveSighting:
        """What the video worker calls for each sighting of a job: stored as if the job's device had sent it (the
        sighting names the model the job ran)."""

        def save(s: Session, job: VideoJob, sighting: SeenSighting, key: str) -> None:
            seen = sighting.to_record()  # the record the edge would have sent: no JSON round trip
            record = SightingIn.model_validate(seen.model_dump())
            record_json = seen.model_dump_json()
            sent = Sent(job.device_id, key, record_json, record)
            self.save_one(s, sent, Path(sighting.frame.path).read_bytes(), Path(sighting.crop.path).read_bytes())

        return save


def _sort_batch(
    intake: Intake, s: Session, device_id: int, raw: list[Any], files: Mapping[str, Part]
) -> tuple[list[BatchItemOut], list[tuple[BatchItemOut, SightingIn, Sighting]], set[str]]:
    """Each sighting of a batch refused (422 or 409), a retry (200), or accepted with its row: the answers, the
    accepted ones and the sha256 of the evidence they need (checked)."""
    answers: list[BatchItemOut] = []
    accepted: list[tuple[BatchItemOut, SightingIn, Sighting]] = []
    checked: set[str] = set()
    accepted_keys: set[str] = set()
    keys = [item.get("sighting_id") if isinstance(item, dict) else None for item in raw]
    mine = Sighting.device_id == device_id, col(Sighting.idempotency_key).in_([k for k in keys if k])
    stored = {row.idempotency_key: row for row in s.exec(select(Sighting).where(*mine))}
    for item in raw:
        answer = BatchItemOut(key=str(item.get("sighting_id", "")) if isinstance(item, dict) else "", status=422)
        answers.append(answer)
        try:
            record = SightingIn.model_validate(item)
        except ValidationError as error:
            answer.error = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
            continue
        metadata_sha = canonical_digest(item)
        if record.sighting_id in accepted_keys:
            answer.error = "this key appears twice in the batch"
            continue
        previous = stored.get(record.sighting_id)
        if previous is not None:
            if previous.metadata_sha256 != metadata_sha:
                answer.status, answer.error = 409, REUSED
            else:
                answer.status, answer.sighting = 200, SightingPublic.model_validate(previous)
            continue
        try:
            _check_batch_evidence(record, files, checked, intake.limits)
        except EvidenceError as error:
            answer.error = str(error)
            continue
        accepted.append((answer, record, intake.sighting_row(record, record.sighting_id, metadata_sha, device_id)))
        accepted_keys.add(record.sighting_id)
    return answers, accepted, checked


def _check_batch_evidence(
    record: SightingIn, files: Mapping[str, Part], checked: set[str], limits: ImageLimits
) -> None:
    """The frame and crop a batched sighting names are in the request and valid; adds them to `checked`."""
    for name, part in (("frame", record.frame), ("crop", record.crop)):
        sha = part.sha256.lower()
        if sha not in checked:
            if sha not in files:
                raise EvidenceError(f"{name}: no evidence file with sha256 {sha} in the request")
            check_part(files[sha], sha, name, limits)
            checked.add(sha)


def _jpeg(pixels: npt.NDArray[Any]) -> bytes:
    return bytes(cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes())


def _empty_frame(shot: Shot) -> Sighting:
    """The row that remembers a frame with no sighting in it (never shown: its status is `empty_frame`)."""
    meta = shot.meta
    return Sighting(
        idempotency_key=f"{shot.key}#none", metadata_sha256="", device_id=shot.device_id,
        class_name="", score=0, frames=1, first_time=meta.time, last_time=meta.time, best_time=meta.time,
        box=[], frame_sha256="", crop_sha256="", status="empty_frame",
    )  # fmt: skip
