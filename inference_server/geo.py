"""Districts and streets from a GeoJSON file: which one a sighting's location falls in.

`STREETWATCH_DISTRICTS` names a GeoJSON FeatureCollection of Polygon / MultiPolygon features whose properties
hold `district` and `street` (城区, 街道). A point on no polygon gets neither.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Area:
    district: str
    street: str | None
    polygons: tuple[tuple[tuple[tuple[float, float], ...], ...], ...]  # polygons → rings → (lon, lat)


def load_areas(path: Path | None) -> list[Area]:
    if path is None:
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    areas = []
    for feature in data.get("features", []):
        geometry, properties = feature.get("geometry") or {}, feature.get("properties") or {}
        if "district" not in properties:
            raise ValueError(f"{path}: every feature needs a 'district' property, got {properties}")
        kind, coordinates = geometry.get("type"), geometry.get("coordinates")
        polygons: list[Any] | None = (
            [coordinates] if kind == "Polygon" else coordinates if kind == "MultiPolygon" else None
        )
        if polygons is None:
            raise ValueError(f"{path}: district {properties['district']!r} is a {kind}, not a (Multi)Polygon")
        rings = tuple(
            tuple(tuple((float(x), float(y)) for x, y, *_ in ring) for ring in polygon) for polygon in polygons
        )
        areas.append(Area(str(properties["district"]), properties.get("street"), rings))
    return areas


def locate(areas: list[Area], lat: float | None, lon: float | None) -> tuple[str | None, str | None]:
    """(district, street) of the first area containing the point (outer ring in, holes out)."""
    if lat is None or lon is None:
        return None, None
    for area in areas:
        for outer, *holes in area.polygons:
            if _inside(outer, lon, lat) and not any(_inside(hole, lon, lat) for hole in holes):
                return area.district, area.street
    return None, None


def _inside(ring: tuple[tuple[float, float], ...], x: float, y: float) -> bool:
    """Even-odd ray casting."""
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside
