"""Cases and sightings as CSV and GeoJSON files for other systems; always valid JSON, never a spreadsheet formula.

Rows written before the wire types refused NaN and Infinity (`inference_server.wire`) may still hold them: the
GeoJSON export writes them as null, since `NaN` and `Infinity` are not JSON and break every strict reader.
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

from vision.spreadsheet import safe_cell


def finite(value: Any) -> Any:
    """`value` with every NaN or infinite float inside it (lists, dicts) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    return value


def _point(row: dict[str, Any]) -> dict[str, Any] | None:
    if row.get("lat") is None or row.get("lon") is None:
        return None
    return {"type": "Point", "coordinates": [row["lon"], row["lat"]]}


def to_geojson(rows: list[dict[str, Any]]) -> str:
    """A FeatureCollection of `rows` (JSON-mode dumps of table rows), a Point where a row has lat and lon."""
    features = [{"type": "Feature", "properties": row, "geometry": _point(row)} for row in map(finite, rows)]
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False, allow_nan=False)


def to_csv(rows: list[dict[str, Any]], fields: list[str]) -> str:
    """`rows` as CSV with a header of `fields`; lists are written as JSON, text that looks like a formula escaped."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields)
    writer.writeheader()
    writer.writerows(
        {k: json.dumps(v) if isinstance(v, list) else safe_cell(v) for k, v in row.items()} for row in rows
    )
    return buffer.getvalue()
