"""Bounded number and text types for what crosses the wire between a device and the server.

Every float is finite and in a range the database and the exports can hold (NaN stored in SQLite becomes NULL,
Infinity makes a GeoJSON export invalid), every count fits a database INTEGER, every string has a length limit.
The edge writes its sightings with these types (`vision.records`), and the server validates what it is sent with
the same ones.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

INT32_MAX = 2**31 - 1  # what an INTEGER column holds in PostgreSQL (and SQLite)
MAX_UNIX_TIME = 1e10  # Unix seconds: the year 2286; a later "time" is a wrong number, not a future sighting
MAX_PIXEL = 1e6  # box coordinates in pixels: far past any frame within the pixel limit, far inside a float

UnixTime = Annotated[float, Field(ge=0, le=MAX_UNIX_TIME, allow_inf_nan=False, description="Unix seconds")]
Pixel = Annotated[float, Field(ge=-MAX_PIXEL, le=MAX_PIXEL, allow_inf_nan=False)]
Box = tuple[Pixel, Pixel, Pixel, Pixel]
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
Heading = Annotated[float, Field(ge=0, lt=360, allow_inf_nan=False, description="degrees clockwise from north")]
Score = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Metres = Annotated[float, Field(ge=0, le=1e8, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=INT32_MAX)]
Label = Annotated[str, Field(max_length=200, description="a name: device source, model reference")]
