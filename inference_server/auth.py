"""People and their roles: argon2 passwords, bearer tokens, a login rate limit, role checks."""

import hashlib
import secrets
import threading
import time
from collections import defaultdict, deque
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError
from sqlmodel import Session, select

from inference_server.tables import Token, User

ROLES = ("viewer", "reviewer", "supervisor", "admin")  # each can do what the ones before it can
TOKEN_HOURS = 12
_hasher = PasswordHasher()


def rank(role: str) -> int:
    return ROLES.index(role)


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise ValueError("a password needs at least 8 characters")
    return _hasher.hash(password)


def add_user(session: Session, username: str, password: str, role: str) -> User:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    user = User(username=username, password_hash=hash_password(password), role=role)
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


def login(session: Session, username: str, password: str) -> str | None:
    """A new bearer token for valid credentials, else None (the same answer for unknown user and bad password)."""
    user = session.exec(select(User).where(User.username == username, User.active)).first()
    if user is None:
        _hasher.hash(password)  # same time as a real check: no user enumeration by timing
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except VerifyMismatchError:
        return None
    token = secrets.token_urlsafe(32)
    session.add(
        Token(token_hash=_sha(token), user_id=user.id or 0, expires=datetime.now(UTC) + timedelta(hours=TOKEN_HOURS))
    )
    session.commit()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    row = session.get(Token, _sha(token))
    if row is None or _aware(row.expires) < datetime.now(UTC):
        return None
    user = session.get(User, row.user_id)
    return user if user is not None and user.active else None


def revoke(session: Session, token: str) -> None:
    """Sign out: the token stops working at once."""
    row = session.get(Token, _sha(token))
    if row is not None:
        session.delete(row)
        session.commit()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite returns naive datetimes


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class LoginLimiter:
    """At most `attempts` failed logins per username and per client address in `window` seconds."""

    def __init__(self, attempts: int = 5, window: float = 60.0) -> None:
        self.attempts, self.window = attempts, window
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def blocked(self, *keys: str) -> bool:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                failures = self._failures[key]
                while failures and now - failures[0] > self.window:
                    failures.popleft()
                if len(failures) >= self.attempts:
                    return True
        return False

    def failed(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures[key].append(time.monotonic())
