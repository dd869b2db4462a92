"""Devices send sightings: one at a time with its evidence, or a batch emptying a backlog; and read back their
own. Storing them is `inference_server.ingest`."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Header, HTTPException, UploadFile
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from pydantic_core import from_json

from inference_server.deps import DbSession, IntakeDep, RowId, Sender, get_or_404
from inference_server.evidence import EvidenceError, Part
from inference_server.ingest import MAX_BATCH, BatchItemOut, KeyReused, Sent, SightingIn
from inference_server.tables import Sighting, SightingPublic
from inference_server.wire import error_details, unprocessable

router = APIRouter(prefix="/api/v1/sightings", tags=["ingest"])


@router.post("", status_code=201, response_model=SightingPublic)
def ingest(
    s: DbSession,
    sender: Sender,
    intake: IntakeDep,
    metadata: Annotated[str, Form(description="the sighting as JSON")],
    frame: Annotated[UploadFile, File(description="the full frame JPEG, untouched (the box is in the metadata)")],
    crop: Annotated[UploadFile, File(description="crop JPEG")],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Any:
    try:
        record = SightingIn.model_validate_json(metadata)
    except ValidationError as error:
        raise HTTPException(422, error_details(error.errors())) from error
    sent = Sent(sender.id or 0, idempotency_key or record.sighting_id, metadata, record)
    # a sync endpoint: FastAPI runs it in its thread pool, file and database waits do not block the event loop
    try:
        saved = intake.save_one(s, sent, frame.file, crop.file)
    except KeyReused as error:
        raise HTTPException(409, str(error)) from error
    except EvidenceError as error:
        raise unprocessable(str(error)) from error
    if not saved.created:  # a retry: the stored sighting, 200
        return JSONResponse(json.loads(SightingPublic.model_validate(saved.row).model_dump_json()), 200)
    return saved.row


@router.post("/batch", response_model=list[BatchItemOut])
def ingest_batch(
    s: DbSession,
    sender: Sender,
    intake: IntakeDep,
    sightings: Annotated[str, Form(description="JSON array of sightings, each as POST /api/v1/sightings takes")],
    evidence: Annotated[
        list[UploadFile], File(description="every frame and crop the sightings name, each once (by sha256)")
    ],
) -> list[BatchItemOut]:
    """Many sightings in one request, for an edge device emptying its backlog: one answer per sighting.

    Each sighting is accepted (201), recognised as already stored (200, a retry), or refused on its own (409
    for a reused key, 422 for missing or bad evidence); accepted ones are committed together after all their
    evidence is on disk, so a crash leaves each of them wholly stored or not at all.
    """
    try:  # pydantic's parser bounds nesting depth (json.loads would hit a RecursionError on 100,000 `[`)
        raw = from_json(sightings)
    except ValueError as error:
        raise unprocessable(f"sightings: not JSON ({error})") from error
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_BATCH:
        raise unprocessable(f"sightings: a JSON array of 1 to {MAX_BATCH} sightings")
    files = {part.sha256: part for part in (Part.of(upload.file) for upload in evidence)}  # hashed, not held
    return intake.save_batch(s, sender.id or 0, raw, files)


@router.get("/{sighting_id}", response_model=SightingPublic)
def get_sighting(sighting_id: RowId, s: DbSession, sender: Sender) -> Any:
    """A sighting the calling device sent (another device's is answered as if it did not exist)."""
    found = get_or_404(s, Sighting, sighting_id, "sighting")
    if found.device_id != sender.id:
        raise HTTPException(404, f"no sighting {sighting_id}")
    return found
