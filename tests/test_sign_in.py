"""Sign-in throttling (issue 19, rows 4 and 5): a guesser waits, the account's owner elsewhere does not, and the
limiter's memory stays bounded whatever names it is sent."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from inference_server.app import create_app
from inference_server.auth import MAX_NAME, LoginLimiter
from inference_server.settings import Settings
from testbed.people import PASSWORD, add_people


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    settings = Settings(data_dir=tmp_path / "data")
    add_people(settings, "car-1")
    return create_app(settings)


def _sign_in(http: TestClient, name: str, password: str) -> int:
    return http.post("/api/v1/auth/token", data={"username": name, "password": password}).status_code


def test_guessing_from_one_address_does_not_lock_the_owner_out_from_another(app: FastAPI) -> None:
    with (
        TestClient(app, client=("203.0.113.7", 4000)) as guesser,
        TestClient(app, client=("198.51.100.2", 5000)) as owner,
    ):
        assert [_sign_in(guesser, "admin", "not-the-password") for _ in range(6)][-2:] == [401, 429]
        assert _sign_in(guesser, "admin", PASSWORD) == 429  # the guesser's address waits, even with the password
        assert _sign_in(owner, "admin", PASSWORD) == 200


def test_one_address_guessing_many_names_is_throttled_as_an_address(app: FastAPI) -> None:
    limiter = app.state.sign_ins
    with TestClient(app, client=("203.0.113.8", 4000)) as guesser:
        statuses = [_sign_in(guesser, f"user-{i}", "not-the-password") for i in range(limiter.address_attempts + 1)]
    assert statuses[:-1] == [401] * limiter.address_attempts and statuses[-1] == 429


def test_an_overlong_name_is_refused_before_anything_is_kept(app: FastAPI) -> None:
    with TestClient(app) as http:
        before = len(app.state.sign_ins)
        assert _sign_in(http, "n" * 900_000, "not-the-password") == 422
        assert _sign_in(http, "n" * (MAX_NAME + 1), "not-the-password") == 422
        assert _sign_in(http, "x", "p" * 900_000) == 422  # argon2 would hash every byte
        assert len(app.state.sign_ins) == before


def test_the_limiter_keeps_at_most_its_capacity_and_still_blocks_the_flooding_address() -> None:
    limiter = LoginLimiter(attempts=5, address_attempts=30, capacity=100)
    for i in range(5_000):
        limiter.failed("203.0.113.9", f"{i:0{MAX_NAME}d}")
    assert len(limiter) <= 100
    assert limiter.blocked("203.0.113.9", "admin")  # the address is the most recent entry: never the one dropped
    assert not limiter.blocked("198.51.100.2", "admin")


def test_each_failure_past_the_limit_doubles_the_wait() -> None:
    now = [1000.0]
    limiter = LoginLimiter(attempts=3, address_attempts=100, base_wait=60, max_wait=600, clock=lambda: now[0])
    waits = []
    for _ in range(6):
        limiter.failed("a", "admin")
        started = now[0]
        while limiter.blocked("a", "admin"):
            now[0] += 1
        waits.append(now[0] - started)
    assert waits == [0, 0, 60, 120, 240, 480]
    limiter.succeeded("a", "admin")
    assert not limiter.blocked("a", "admin")


def test_expired_tokens_are_purged_at_the_next_sign_in(app: FastAPI) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlmodel import Session, select

    from inference_server.tables import Token

    with TestClient(app) as http:
        with Session(app.state.engine) as s:
            s.add(Token(token_hash="old", user_id=1, expires=datetime.now(UTC) - timedelta(minutes=1)))
            s.add(Token(token_hash="live", user_id=1, expires=datetime.now(UTC) + timedelta(hours=1)))
            s.commit()
        assert _sign_in(http, "admin", PASSWORD) == 200
        with Session(app.state.engine) as s:
            kept = {t.token_hash for t in s.exec(select(Token)).all()}
    assert "old" not in kept and "live" in kept and len(kept) == 2  # the live one and the new sign-in's
