"""A fresh server's people: one user per role, named after it, and a patrol car."""

from __future__ import annotations

from sqlmodel import Session

from inference_server.auth import ROLES, add_user
from inference_server.db import create_schema, make_engine
from inference_server.devices import add_device
from inference_server.settings import Settings

PASSWORD = "correct horse battery"  # every test user's


def add_people(settings: Settings, car: str) -> str:
    """A fresh server's people: one user per role (named after it, password PASSWORD) and the patrol car `car`;
    the car's API key."""
    key = add_device(settings, car, "patrol_car")
    engine = make_engine(settings.url)
    create_schema(engine)
    with Session(engine) as session:
        for role in ROLES:
            add_user(session, role, PASSWORD, role)
    engine.dispose()
    return key
