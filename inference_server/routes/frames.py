"""Raw frames from cameras without a model of their own: the server's detector finds the sightings
(`inference_server.ingest.Intake.save_frame`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Header, HTTPException, UploadFile
from pydantic import ValidationError

from inference_server.deps import DbSession, IntakeDep, Sender, Served
from inference_server.evidence import EvidenceError, Part
from inference_server.ingest import FrameIn, Shot, found_in_frame, frame_rows
from inference_server.tables import SightingPublic
from inference_server.wire import error_details, unprocessable
from vision.errors import ImageError
from vision.images import decode_image

router = APIRouter(tags=["ingest"])


@router.post("/api/v1/frames", status_code=201, response_model=list[SightingPublic])
def ingest_frame(
    s: DbSession,
    sender: Sender,
    intake: IntakeDep,
    served: Served,
    metadata: Annotated[str, Form(description='{"time": unix seconds, "lat": …, "lon": …, "heading_deg": …}')],
    image: Annotated[UploadFile, File(description="a JPEG or PNG frame from a camera without its own model")],
    idempotency_key: Annotated[str, Header(max_length=180)],
) -> Any:
    """Run the server's detector on one frame; each detection of a taxonomy class becomes a sighting."""
    try:
        meta = FrameIn.model_validate_json(metadata)
    except ValidationError as error:
        raise HTTPException(422, error_details(error.errors())) from error
    earlier = frame_rows(s, sender.id or 0, idempotency_key)
    if earlier:
        return found_in_frame(earlier)
    try:
        data = Part.of(image.file).read_within(intake.limits.max_bytes, "image")
        pixels = decode_image(data, intake.limits, "image")
    except (ImageError, EvidenceError) as error:
        raise unprocessable(str(error)) from error
    return intake.save_frame(s, Shot(sender.id or 0, idempotency_key, metadata, meta, pixels), served)
