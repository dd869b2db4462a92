"""Request bodies counted as they arrive: one byte past the limit is a 413 at once.

A Content-Length over the limit is refused before anything is read; a body sent without one (chunked) or one that
sends more than it announced is counted chunk by chunk as the application reads it, and the read that passes the
limit raises a 413 instead of returning. Nothing is parsed, spooled to disk or held in memory past the limit.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _too_large(limit: int) -> str:
    return f"request body over the limit of {limit} bytes"


class BodyLimit:
    """ASGI middleware: at most `max_bytes` of request body, counted as received."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await JSONResponse({"detail": _too_large(self.max_bytes)}, 413)(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:  # FastAPI passes an HTTPException from reading the body on as is
                    raise HTTPException(413, _too_large(self.max_bytes))
            return message

        await self.app(scope, counted, send)
