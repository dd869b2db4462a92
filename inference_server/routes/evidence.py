"""Evidence files and case photos by their sha256, for people signed in (what the review UI shows)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Response
from fastapi import Path as PathParam

from inference_server.deps import AppSettings, Viewer
from inference_server.evidence import evidence_path

router = APIRouter(tags=["evidence"])


@router.get("/api/v1/evidence/{sha256}")
def evidence(
    sha256: Annotated[str, PathParam(pattern=r"^[0-9a-f]{64}$")], _: Viewer, settings: AppSettings
) -> Response:
    """An evidence file or case photo by its sha256 (what the review UI shows)."""
    path = evidence_path(settings.evidence_dir, sha256)
    if not path.is_file():
        raise HTTPException(404, "no such evidence")
    return Response(path.read_bytes(), media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})
