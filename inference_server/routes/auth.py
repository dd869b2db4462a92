"""Sign-in and sign-out: bearer tokens for scripts, a session cookie with its CSRF token for the browser."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Cookie, Form, Header, HTTPException, Request, Response
from pydantic import BaseModel
from sqlmodel import Session

from inference_server import auth
from inference_server.deps import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    AppSettings,
    DbSession,
    Secret,
    SignedIn,
    SignIns,
    csrf_token,
)

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
Username = Annotated[str, Form(max_length=auth.MAX_NAME)]
Password = Annotated[str, Form(max_length=auth.MAX_PASSWORD)]


class TokenOut(BaseModel):
    access_token: str
    token_type: str


class SignedInOut(BaseModel):
    username: str
    role: str
    csrf_token: str


class MeOut(BaseModel):
    id: int | None
    username: str
    role: str


def _issue(request: Request, s: Session, limiter: auth.LoginLimiter, username: str, password: str) -> str:
    """A new token for a right username and password; wrong ones count towards the address's sign-in limit."""
    client = request.client.host if request.client else "unknown"
    if limiter.blocked(client, username):
        raise HTTPException(429, "too many failed sign-ins from this address; wait and try again")
    issued = auth.login(s, username, password)
    if issued is None:
        limiter.failed(client, username)
        raise HTTPException(401, "wrong username or password")
    limiter.succeeded(client, username)
    return issued


@router.post("/token")
def token(request: Request, s: DbSession, limiter: SignIns, username: Username, password: Password) -> TokenOut:
    return TokenOut(access_token=_issue(request, s, limiter, username, password), token_type="bearer")


@router.post("/session")
def sign_in(
    request: Request,
    response: Response,
    s: DbSession,
    limiter: SignIns,
    settings: AppSettings,
    secret: Secret,
    username: Username,
    password: Password,
) -> SignedInOut:
    """Browser sign-in: an HttpOnly session cookie and the CSRF token to send with every change."""
    issued = _issue(request, s, limiter, username, password)
    csrf = csrf_token(secret, issued)
    found = auth.user_for_token(s, issued)
    assert found is not None  # just issued
    age, secure = auth.TOKEN_HOURS * 3600, settings.secure_cookies
    response.set_cookie(SESSION_COOKIE, issued, max_age=age, httponly=True, samesite="strict", secure=secure)
    response.set_cookie(CSRF_COOKIE, csrf, max_age=age, httponly=False, samesite="strict", secure=secure)
    return SignedInOut(username=found.username, role=found.role, csrf_token=csrf)


@router.delete("/session", status_code=204)
def sign_out(
    response: Response,
    s: DbSession,
    _: SignedIn,
    authorization: Annotated[str | None, Header()] = None,
    sw_session: Annotated[str | None, Cookie()] = None,
) -> None:
    """Sign out: the credential this request used (bearer token or session cookie) stops working."""
    if authorization and authorization.startswith("Bearer "):
        auth.revoke(s, authorization.removeprefix("Bearer "))
    elif sw_session:
        auth.revoke(s, sw_session)
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)


@router.get("/me")
def me(who: SignedIn) -> MeOut:
    return MeOut(id=who.id, username=who.username, role=who.role)
