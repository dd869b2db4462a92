"""Database tables (SQLModel). Families: <Name>Base (shared fields), <Name>Create (input), <Name> (table),
<Name>Public (output)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from vision.wire import INT32_MAX

# The largest count an INTEGER column holds on every database the server runs on (PostgreSQL's is 32-bit): input
# counts are validated against it, so an absurd value is a 422, not a database error.
DB_INT_MAX = INT32_MAX


def _now() -> datetime:
    return datetime.now(UTC)


class Device(SQLModel, table=True):
    """A patrol car or fixed camera; its own principal, authenticated by an API key stored as a sha256 hash."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    kind: str = Field(default="camera", description="camera | patrol_car")
    key_hash: str = Field(index=True, unique=True)
    created: datetime = Field(default_factory=_now)
    active: bool = True


class PatrolRun(SQLModel, table=True):
    """One drive of a patrol car or one session of a camera, named by the device (`run` in its sightings)."""

    __table_args__ = (UniqueConstraint("device_id", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    device_id: int = Field(foreign_key="device.id", index=True)
    key: str = Field(max_length=200, description="the device's own name for the run, e.g. video and start time")
    first_time: float | None = Field(default=None, description="earliest sighting time (Unix seconds)")
    last_time: float | None = None
    sightings: int = 0
    started: float | None = Field(default=None, description="from the device's summary, when it sent one")
    ended: float | None = None
    distance_m: float | None = None
    frames_analysed: int | None = None
    source: str = ""
    created: datetime = Field(default_factory=_now)


class SightingBase(SQLModel):
    class_name: str = Field(index=True)
    score: float
    frames: int
    first_time: float
    last_time: float
    best_time: float = Field(index=True)
    box: list[float] = Field(sa_column=Column(JSON))
    lat: float | None = None
    lon: float | None = None
    heading_deg: float | None = None
    model: str = ""
    source: str = ""


class Sighting(SightingBase, table=True):
    """One sighting as ingested; its evidence files are content-addressed by sha256 under the evidence folder."""

    # the review queue's orders (next by score or by time among the pending) and the look-up of a spot's history
    __table_args__ = (
        Index("ix_sighting_status_score", "status", "score"),
        Index("ix_sighting_status_best_time", "status", "best_time"),
        Index("ix_sighting_lat_lon", "lat", "lon"),
        # devices are tenants: a key is unique per device, so one device's key can never answer another's
        Index("ix_sighting_device_id_idempotency_key", "device_id", "idempotency_key", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=200)
    metadata_sha256: str = Field(description="what the key was first used for: a different body is a conflict")
    device_id: int = Field(foreign_key="device.id", index=True)
    frame_sha256: str
    crop_sha256: str
    status: str = Field(default="pending", index=True)
    received: datetime = Field(default_factory=_now)
    district: str | None = Field(default=None, index=True)
    street: str | None = None
    run_id: int | None = Field(default=None, foreign_key="patrolrun.id", index=True)


class SightingPublic(SightingBase):
    id: int
    idempotency_key: str
    device_id: int
    run_id: int | None = None
    frame_sha256: str
    crop_sha256: str
    status: str
    received: datetime
    district: str | None
    street: str | None


class User(SQLModel, table=True):
    """A person: admin, supervisor, reviewer or viewer. Passwords are argon2 hashes."""

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(index=True, unique=True)
    password_hash: str
    role: str = Field(description="admin | supervisor | reviewer | viewer")
    active: bool = True
    created: datetime = Field(default_factory=_now)


class Token(SQLModel, table=True):
    """A bearer token of a signed-in user, stored as its sha256."""

    token_hash: str = Field(primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    expires: datetime


class ReviewDecision(SQLModel, table=True):
    """What a reviewer decided about a sighting, and when."""

    id: int | None = Field(default=None, primary_key=True)
    sighting_id: int = Field(foreign_key="sighting.id", index=True)
    user_id: int = Field(foreign_key="user.id")
    action: str = Field(description="confirm | reject | relabel | fix_box")
    class_name: str | None = None
    box: list[float] | None = Field(default=None, sa_column=Column(JSON))
    note: str = ""
    decided: datetime = Field(default_factory=_now)
    before: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON), description="the sighting's class_name and box before the decision"
    )
    undone: datetime | None = Field(default=None, description="when the reviewer took the decision back")

    # a reviewer's undo finds their latest decision
    __table_args__ = (Index("ix_reviewdecision_user_id_id", "user_id", "id"),)


class Case(SQLModel, table=True):
    """An enforcement case of the 数字城管 workflow, made from confirmed sightings."""

    # the case board (by state, overdue first) and the map's spots
    __table_args__ = (Index("ix_case_state_deadline", "state", "deadline"), Index("ix_case_lat_lon", "lat", "lon"))

    id: int | None = Field(default=None, primary_key=True)
    class_name: str = Field(index=True)
    state: str = Field(default="filed", index=True)
    lat: float | None = None
    lon: float | None = None
    department: str | None = None
    district: str | None = Field(default=None, index=True)
    street: str | None = None
    satisfaction: int | None = Field(default=None, description="1-5, recorded on closure (回访满意度)")
    deadline: datetime
    created: datetime = Field(default_factory=_now)
    updated: datetime = Field(default_factory=_now)


class CaseSighting(SQLModel, table=True):
    case_id: int = Field(foreign_key="case.id", primary_key=True)
    sighting_id: int = Field(foreign_key="sighting.id", primary_key=True)


class CaseEvent(SQLModel, table=True):
    """The audit trail of a case: every change, who made it, when, from which state to which, and why."""

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    user_id: int | None = Field(default=None, foreign_key="user.id")
    at: datetime = Field(default_factory=_now)
    from_state: str | None = None
    to_state: str
    note: str = ""


class VideoJob(SQLModel, table=True):
    """An uploaded video segment (and its GPS track) waiting for, in, or done with server-side inspection."""

    __table_args__ = (Index("ix_videojob_device_id_idempotency_key", "device_id", "idempotency_key", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=200, description="unique per device")
    device_id: int = Field(foreign_key="device.id", index=True)
    video_sha256: str
    video_path: str
    gps_path: str | None = None
    start_time: float
    status: str = Field(default="queued", index=True, description="queued | running | done | failed")
    sightings: int = 0
    error: str | None = None
    created: datetime = Field(default_factory=_now)
    updated: datetime = Field(default_factory=_now)


class CasePhoto(SQLModel, table=True):
    """A photo attached to a case (the rectification: the spot after it was cleaned up), content-addressed."""

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    user_id: int = Field(foreign_key="user.id")
    sha256: str
    note: str = ""
    uploaded: datetime = Field(default_factory=_now)
