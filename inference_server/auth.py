"""People and their roles: argon2 passwords, bearer tokens, a login rate limit, role checks."""

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError
from sqlalchemy import delete
from sqlmodel import Session, col, select

from inference_server.tables import Token, User

MAX_NAME = 200  # characters of a user name; a longer one is refused before anything is kept of it
MAX_PASSWORD = 1024  # argon2 hashes every byte: a megabyte password is work for the server, not security
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
    purge_expired(session)
    token = secrets.token_urlsafe(32)
    session.add(
        Token(token_hash=_sha(token), user_id=user.id or 0, expires=datetime.now(UTC) + timedelta(hours=TOKEN_HOURS))
    )
    session.commit()
    return token


def purge_expired(session: Session) -> int:
    """Delete tokens past their expiry (at each sign-in, so the table holds only live sessions); how many."""
    result = session.execute(delete(Token).where(col(Token.expires) < datetime.now(UTC)))
    return int(getattr(result, "rowcount", 0) or 0)


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


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0
    until: float = 0.0  # refused until then (on the limiter's clock)


class LoginLimiter:
    """Failed sign-ins counted per (address, name) and per address, each with a doubling wait; bounded memory.

    After `attempts` failures of one name from one address that pair waits `base_wait` seconds, twice as long after
    each further failure (at most `max_wait`); an address that fails `address_attempts` times, whatever the names,
    waits the same way. A name is never locked as such: from another address its owner still signs in. Failures
    are forgotten after `max_wait` without one. At most `capacity` entries are kept, the least recently failed
    dropped first, so a flood of distinct names cannot grow the server's memory.
    """

    def __init__(
        self,
        attempts: int = 5,
        address_attempts: int = 30,
        base_wait: float = 60.0,
        max_wait: float = 3600.0,
        capacity: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.attempts, self.address_attempts, self.capacity = attempts, address_attempts, capacity
        self.base_wait, self.max_wait, self.clock = base_wait, max_wait, clock
        self._entries: OrderedDict[tuple[str, ...], _Failures] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def blocked(self, address: str, name: str) -> bool:
        """Whether a sign-in as `name` from `address` must wait."""
        now = self.clock()
        with self._lock:
            return any(
                (entry := self._entries.get(key)) is not None and entry.until > now
                for key in (("pair", address, name), ("address", address))
            )

    def failed(self, address: str, name: str) -> None:
        now = self.clock()
        with self._lock:
            for key, limit in ((("pair", address, name), self.attempts), (("address", address), self.address_attempts)):
                entry = self._entries.pop(key, None)
                if entry is None or now - entry.last > self.max_wait:
                    entry = _Failures()
                entry.count, entry.last = entry.count + 1, now
                if entry.count >= limit:
                    doublings = min(entry.count - limit, 16)
                    entry.until = now + min(self.max_wait, self.base_wait * 2**doublings)
                self._entries[key] = entry  # most recent last
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def succeeded(self, address: str, name: str) -> None:
        """The pair's failures are forgotten (the address's are not: it may be guessing other names)."""
        with self._lock:
            self._entries.pop(("pair", address, name), None)
