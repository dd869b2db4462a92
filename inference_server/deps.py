"""Request dependencies shared by every router: the database session, the device, the signed-in user and what
`create_app` keeps in `app.state` (settings, engine, served model, metrics, workers), each as a typed alias.

A person signs in either with a bearer token (`POST /api/v1/auth/token`, for scripts and tools) or with a session
cookie (`POST /api/v1/auth/session`, for the review UI). The cookie is HttpOnly and SameSite=Strict; because a
browser sends it on its own, every request that changes something and rides on the cookie must also carry the
session's CSRF token in `X-CSRF-Token` (double submit, bound to the session by an HMAC of the server's secret).
Bearer tokens need no CSRF token: a browser never attaches them by itself.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import Cookie, Depends, Header, HTTPException, Request
from fastapi import Path as PathParam
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from inference_server import auth
from inference_server.active_learning import ServerRescorer
from inference_server.cases import CityRules
from inference_server.ingest import Intake
from inference_server.metrics import Metrics
from inference_server.models_api import ServedModel
from inference_server.settings import Settings
from inference_server.tables import Device, User
from inference_server.videos import VideoWorker

SESSION_COOKIE = "sw_session"
CSRF_COOKIE = "sw_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine) as s:
        yield s


DbSession = Annotated[Session, Depends(session)]


def hash_key(key: str) -> str:
    """API keys are random 32-byte tokens: a sha256 is enough to store them (no dictionary to guess from)."""
    return hashlib.sha256(key.encode()).hexdigest()


NO_DEVICE_KEY = "a device API key is required (header X-API-Key)"
UNKNOWN_DEVICE_KEY = "unknown or disabled device API key"
NOT_SIGNED_IN = "sign in first (POST /api/v1/auth/session or /api/v1/auth/token)"
UNKNOWN_SESSION = "the session is unknown or expired; sign in again"


def find_device(s: Session, api_key: str) -> Device | None:
    """The active device with this API key, or None."""
    return s.exec(select(Device).where(Device.key_hash == hash_key(api_key), Device.active)).first()


def device(s: DbSession, x_api_key: Annotated[str | None, Header()] = None) -> Device:
    if not x_api_key:
        raise HTTPException(401, NO_DEVICE_KEY)
    found = find_device(s, x_api_key)
    if found is None:
        raise HTTPException(401, UNKNOWN_DEVICE_KEY)
    return found


def server_secret(data_dir: Path, configured: str) -> bytes:
    """The configured secret key, or one made on first start and kept (0600) in the data folder."""
    if configured and configured != "change-me":
        return configured.encode()
    file = data_dir / "secret_key"
    if not file.exists():  # created 0600, never readable by others even for a moment
        with os.fdopen(os.open(file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600), "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return file.read_text().strip().encode()


def csrf_token(secret: bytes, session_token: str) -> str:
    return hmac.new(secret, session_token.encode(), hashlib.sha256).hexdigest()


def find_user(s: Session, authorization: str | None, sw_session: str | None) -> User | None:
    """The active user of a bearer token (`Authorization: Bearer …`, first) or a session cookie, or None."""
    if authorization and authorization.startswith("Bearer "):
        return auth.user_for_token(s, authorization.removeprefix("Bearer "))
    return auth.user_for_token(s, sw_session) if sw_session else None


def user(
    request: Request,
    s: DbSession,
    authorization: Annotated[str | None, Header()] = None,
    sw_session: Annotated[str | None, Cookie()] = None,
    x_csrf_token: Annotated[str | None, Header()] = None,
) -> User:
    bearer = authorization is not None and authorization.startswith("Bearer ")
    if not bearer and not sw_session:
        raise HTTPException(401, NOT_SIGNED_IN)
    if not bearer and sw_session and request.method not in SAFE_METHODS:
        expected = csrf_token(request.app.state.secret, sw_session)
        if not x_csrf_token or not hmac.compare_digest(x_csrf_token, expected):
            raise HTTPException(403, f"a signed-in browser request that changes data needs {CSRF_HEADER}")
    found = find_user(s, authorization, sw_session)
    if found is None:
        raise HTTPException(401, UNKNOWN_SESSION)
    return found


def role(minimum: str) -> Callable[..., User]:
    """A dependency that lets in `minimum` and the roles above it."""

    def check(who: Annotated[User, Depends(user)]) -> User:
        if auth.rank(who.role) < auth.rank(minimum):
            raise HTTPException(403, f"needs the {minimum} role or higher; {who.username} is {who.role}")
        return who

    return check


Viewer = Annotated[User, Depends(role("viewer"))]
Reviewer = Annotated[User, Depends(role("reviewer"))]
Supervisor = Annotated[User, Depends(role("supervisor"))]
Admin = Annotated[User, Depends(role("admin"))]
SignedIn = Annotated[User, Depends(user)]
Sender = Annotated[Device, Depends(device)]

# row ids: SQLite and PostgreSQL integers are signed 64-bit
RowId = Annotated[int, PathParam(ge=1, le=2**63 - 1)]

Row = TypeVar("Row")


def get_or_404(s: Session, table: type[Row], row_id: int, what: str) -> Row:
    """The row of `table` with `row_id`, or a 404 saying there is no such `what`."""
    found = s.get(table, row_id)
    if found is None:
        raise HTTPException(404, f"no {what} {row_id}")
    return found


# what create_app keeps in app.state, read by the routes that need it (never captured in closures)
def _state(name: str) -> Callable[[Request], Any]:
    """A dependency reading `app.state.<name>` (the alias below that uses it gives its type)."""

    def read(request: Request) -> Any:
        return getattr(request.app.state, name)

    return read


AppSettings = Annotated[Settings, Depends(_state("settings"))]
IntakeDep = Annotated[Intake, Depends(_state("intake"))]
Served = Annotated[ServedModel, Depends(_state("served"))]
Rescorer = Annotated[ServerRescorer, Depends(_state("rescorer"))]
AppMetrics = Annotated[Metrics, Depends(_state("metrics"))]
Worker = Annotated[VideoWorker, Depends(_state("worker"))]
SignIns = Annotated[auth.LoginLimiter, Depends(_state("sign_ins"))]
Secret = Annotated[bytes, Depends(_state("secret"))]
DbEngine = Annotated[Engine, Depends(_state("engine"))]
City = Annotated[CityRules, Depends(_state("city"))]
