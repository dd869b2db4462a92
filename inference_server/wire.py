"""What a client may send, bounded: the number and text types of the API's request models, and the 422 body.

Every float a client sends is finite and in a range the database and the exports can hold (NaN stored in SQLite
becomes NULL, Infinity makes the GeoJSON export invalid), every int fits the database's INTEGER, every string has
a length limit. A refusal answers with the field, the message and the error type only, never the refused value:
that value may be NaN (which JSON cannot carry) or a megabyte of text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import HTTPException
from pydantic import Field

from inference_server.tables import DB_INT_MAX

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
Count = Annotated[int, Field(ge=0, le=DB_INT_MAX)]
Label = Annotated[str, Field(max_length=200, description="a name: device source, model reference")]


def error_details(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Pydantic's errors as JSON-safe dicts: `loc`, `msg` and `type`, without the refused `input`."""
    return [
        {"loc": [str(part) if not isinstance(part, int) else part for part in e["loc"]], "msg": e["msg"],
         "type": e["type"]}
        for e in errors
    ]  # fmt: skip


def unprocessable(message: str, field: str = "body") -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors, so every 422 matches the documented schema."""
    return HTTPException(422, [{"loc": [field], "msg": message, "type": "value_error"}])
