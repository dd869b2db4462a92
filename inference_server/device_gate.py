"""Device uploads are refused without a valid device key before a byte of their body is read.

FastAPI reads and parses a request's body (a multipart form spools its files to disk) before it resolves the
dependencies that check credentials, so an anonymous client could make the server take in gigabytes only to be
told 401 at the end. `DeviceGate` checks the `X-API-Key` of a request to a device upload route from its headers,
with the same rule as the `deps.device` dependency (which still runs), and answers 401 before the body is read.
"""

from __future__ import annotations

import re

from anyio import to_thread
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from inference_server.deps import NO_DEVICE_KEY, UNKNOWN_DEVICE_KEY, find_device

# the routes devices send bodies to (POST sightings, batch, frames, videos; PUT a run's summary)
DEVICE_UPLOADS = re.compile(r"^/api/v1/(sightings|sightings/batch|frames|videos|runs/[^/]+)$")


class DeviceGate:
    """ASGI middleware: a body-carrying request to a device upload route needs a valid `X-API-Key` first."""

    def __init__(self, app: ASGIApp, engine: Engine) -> None:
        self.app, self.engine = app, engine

    def _known(self, api_key: str) -> bool:
        with Session(self.engine) as s:
            return find_device(s, api_key) is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("POST", "PUT") and DEVICE_UPLOADS.match(scope["path"]):
            api_key = Headers(scope=scope).get("x-api-key")
            refusal = NO_DEVICE_KEY if not api_key else None
            if api_key and not await to_thread.run_sync(self._known, api_key):
                refusal = UNKNOWN_DEVICE_KEY
            if refusal is not None:
                await JSONResponse({"detail": refusal}, 401)(scope, receive, send)
                return
        await self.app(scope, receive, send)
