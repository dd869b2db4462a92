"""The 422 body of a refusal. The bounded types of the request models are `vision.wire`'s (the edge writes what
it sends with the same ones). A refusal answers with the field, the message and the error type only, never the
refused value: that value may be NaN (which JSON cannot carry) or a megabyte of text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import HTTPException


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
