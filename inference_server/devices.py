"""Devices (cameras, patrol cars) and their API keys: registered from the command line, checked by `deps.device`."""

from __future__ import annotations

import secrets

from sqlmodel import Session

from inference_server.db import create_schema, make_engine
from inference_server.deps import hash_key
from inference_server.settings import Settings
from inference_server.tables import Device


def add_device(settings: Settings, name: str, kind: str = "camera") -> str:
    """Register a device; returns its API key (shown once, stored only as a hash)."""
    key = secrets.token_urlsafe(32)
    settings.make_data_dir()
    engine = make_engine(settings.url)
    create_schema(engine)
    with Session(engine) as s:
        s.add(Device(name=name, kind=kind, key_hash=hash_key(key)))
        s.commit()
    engine.dispose()
    return key
