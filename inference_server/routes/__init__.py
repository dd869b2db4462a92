"""The HTTP API, one router module per resource; `inference_server.app.create_app` includes `ROUTERS` in order.

Routes parse and check the request, call the domain modules (`ingest`, `review`, `cases`, `runs`, ...) and turn
their errors into status codes; what they need of the app (settings, engine, served model, metrics, workers) comes
from `app.state` through the typed dependencies of `deps`.
"""

from __future__ import annotations

from fastapi import APIRouter

from inference_server.routes import (
    auth,
    cases,
    evidence,
    exports,
    frames,
    health,
    models,
    open311,
    review,
    runs,
    sightings,
    ui,
    videos,
)

ROUTERS: tuple[APIRouter, ...] = (
    runs.router,
    auth.router,
    review.router,
    cases.router,
    health.router,
    open311.router,
    exports.router,
    evidence.router,
    sightings.router,
    models.router,
    frames.router,
    videos.router,
    ui.router,
    review.ui,
    cases.ui,
    ui.home,
)
