"""Cases and sightings as CSV or GeoJSON (`inference_server.exports`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Response
from sqlmodel import col, select

from inference_server import exports
from inference_server.deps import DbSession, Viewer
from inference_server.tables import Case, Sighting

router = APIRouter(tags=["exports"])


@router.get("/api/v1/exports/{what}.{fmt}")
def export(what: str, fmt: str, s: DbSession, _: Viewer) -> Response:
    if what not in ("cases", "sightings") or fmt not in ("csv", "geojson"):
        raise HTTPException(404, "exports: cases or sightings, as .csv or .geojson")
    table: Any = Case if what == "cases" else Sighting
    rows = [row.model_dump(mode="json") for row in s.exec(select(table).order_by(col(table.id))).all()]
    if fmt == "geojson":
        return Response(exports.to_geojson(rows), media_type="application/geo+json")
    return Response(exports.to_csv(rows, list(table.model_fields)), media_type="text/csv; charset=utf-8")
