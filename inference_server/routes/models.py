"""The model endpoints edge devices update from, and the registry's versions for people; the served model and its
hot swap are `inference_server.models_api`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from inference_server.deps import Sender, Served, Viewer
from inference_server.models_api import SERVED_FILES, file_info, model_folder
from models.versions import list_versions
from vision.errors import StreetWatchError

router = APIRouter(prefix="/api/v1/models", tags=["models"])


class ModelFileOut(BaseModel):
    sha256: str | None = Field(description="from the version's card; the downloaded file must match it")
    size: int


class ServedOut(BaseModel):
    reference: str = Field(description="name@version")
    files: dict[str, ModelFileOut]


@router.get("/current")
def served_model(served: Served, _: Sender) -> ServedOut:
    """What edge devices should run: the served reference and each ONNX file's sha256 and size."""
    reference = served.wanted()
    folder = model_folder(reference)
    files = {name: ModelFileOut.model_validate(file_info(folder, name)) for name in SERVED_FILES}
    return ServedOut(reference=reference, files=files)


@router.get("/{reference}/files/{name}")
def version_file(
    reference: Annotated[str, PathParam(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*@[A-Za-z0-9][A-Za-z0-9._+-]*$")],
    name: Annotated[str, PathParam(pattern=r"^model(\.int8)?\.onnx$")],
    _: Sender,
) -> FileResponse:
    """One ONNX file of a model version (the edge checks it against the sha256 of `/current`)."""
    try:
        folder = model_folder(reference)
    except StreetWatchError as error:
        raise HTTPException(404, str(error)) from error
    info = file_info(folder, name)
    return FileResponse(folder / name, media_type="application/octet-stream", headers={"X-Sha256": info["sha256"]})


@router.get("")
def registry_versions(served: Served, _: Viewer) -> dict[str, Any]:
    """The registry's versions (status, parent, gate decision) and what serves now."""
    return {"serving": served.current()[1], "versions": list_versions()}
