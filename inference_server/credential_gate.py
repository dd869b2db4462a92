"""A request that carries a body is refused without valid credentials before a byte of that body is read.

FastAPI reads and parses a request's body (a multipart form spools its files to disk) before it resolves the
dependencies that check credentials, so an anonymous client could make the server take in a body up to the size
limit only to be told 401 at the end. `CredentialGate` checks, from the headers alone, the credentials a route's
dependencies will check: a device upload route needs a valid `X-API-Key` (the rule of `deps.device`), every other
route under `/api/v1/` that takes a body needs a live bearer token or session cookie (the rule of `deps.user`).
Sign-in itself is exempt. The dependencies still run: roles, CSRF and the device's identity are theirs.
"""

from __future__ import annotations

import re

from anyio import to_thread
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from inference_server.deps import (
    NO_DEVICE_KEY,
    NOT_SIGNED_IN,
    SESSION_COOKIE,
    UNKNOWN_DEVICE_KEY,
    UNKNOWN_SESSION,
    find_device,
    find_user,
)

# the routes devices send bodies to (POST sightings, batch, frames, videos; PUT a run's summary)
DEVICE_UPLOADS = re.compile(r"^/api/v1/(sightings|sightings/batch|frames|videos|runs/[^/]+)$")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SIGN_IN = re.compile(r"^/api/v1/auth/")  # signing in needs no credentials; signing out checks its own


class CredentialGate:
    """ASGI middleware: a body-carrying request to the API needs valid credentials before its body is read."""

    def __init__(self, app: ASGIApp, engine: Engine) -> None:
        self.app, self.engine = app, engine

    def _device_refusal(self, headers: Headers) -> str | None:
        api_key = headers.get("x-api-key")
        if not api_key:
            return NO_DEVICE_KEY
        with Session(self.engine) as s:
            return None if find_device(s, api_key) is not None else UNKNOWN_DEVICE_KEY

    def _person_refusal(self, headers: Headers) -> str | None:
        authorization = headers.get("authorization")
        cookie = cookie_parser(headers.get("cookie", "")).get(SESSION_COOKIE)
        if not (authorization and authorization.startswith("Bearer ")) and not cookie:
            return NOT_SIGNED_IN
        with Session(self.engine) as s:
            return None if find_user(s, authorization, cookie) is not None else UNKNOWN_SESSION

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (scope["type"] == "http" and scope["method"] in BODY_METHODS and path.startswith("/api/v1/")
                and not SIGN_IN.match(path)):  # fmt: skip
            check = self._device_refusal if DEVICE_UPLOADS.match(path) else self._person_refusal
            refusal = await to_thread.run_sync(check, Headers(scope=scope))
            if refusal is not None:
                await JSONResponse({"detail": refusal}, 401)(scope, receive, send)
                return
        await self.app(scope, receive, send)
