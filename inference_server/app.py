"""The FastAPI application: `create_app(settings)` wires the settings, the app's state, the lifespan, the middleware
and the routers of `inference_server.routes` (one per resource); nothing else.

What the routes need of the app (settings, engine, image limits, served model, metrics, the video worker) is kept
in `app.state` and read through the typed dependencies of `deps`. The domain logic is in its own modules: `ingest`,
`review`, `cases`, `runs`, `models_api`, `videos`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from inference_server import auth
from inference_server.active_learning import ServerRescorer
from inference_server.body_limits import BodyLimit
from inference_server.cases import CityRules
from inference_server.credential_gate import CredentialGate
from inference_server.db import create_schema, make_engine
from inference_server.deps import server_secret
from inference_server.evidence import close_areas, sweep_incoming
from inference_server.geo import load_areas
from inference_server.headers import SECURITY_HEADERS
from inference_server.ingest import Intake
from inference_server.metrics import Metrics
from inference_server.models_api import ServedModel
from inference_server.routes import ROUTERS
from inference_server.routes.ui import REVIEW_UI
from inference_server.runs import RunIds
from inference_server.settings import Settings
from inference_server.videos import VideoWorker
from inference_server.wire import error_details
from vision.images import ImageLimits
from vision.inspection import InspectionConfig

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The server for `settings` (by default from the environment); its database and workers start with it."""
    settings = settings or Settings()
    settings.make_data_dir()
    app = FastAPI(title="StreetWatch", version="0.1.0", lifespan=lifespan)
    state = app.state
    state.settings, state.engine, state.metrics = settings, make_engine(settings.url), Metrics()
    state.secret = server_secret(settings.data_dir, settings.secret_key)
    state.sign_ins = auth.LoginLimiter()
    state.city = CityRules.load(settings.deadlines, settings.departments)  # read once; a bad file stops the start
    limits = ImageLimits(max_bytes=settings.max_evidence_bytes, max_pixels=settings.max_image_pixels)
    state.intake = Intake(settings, limits, load_areas(settings.districts), RunIds(), state.engine, state.metrics)
    inspection = InspectionConfig(tiles=settings.tiles)  # video jobs run what `inspect` and `edge` run
    # one detector for raw frames and videos, at the floor the tracker needs; raw frames keep review_threshold up
    state.served = ServedModel(settings.model, tiles=settings.tiles, detection=inspection.detection)  # hot swap
    state.rescorer = ServerRescorer(state.served.current, settings.evidence_dir)
    state.worker = VideoWorker(
        state.engine, state.served.current, state.intake.video_saver(), inspection, settings.max_image_pixels
    )
    app.add_exception_handler(RequestValidationError, refused)  # type: ignore[arg-type]
    # innermost, so that its 413 is raised where the router reads (the http middlewares' task groups would wrap it)
    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_bytes)
    app.add_middleware(CredentialGate, engine=state.engine)  # a body without valid credentials: 401 before it is read
    app.middleware("http")(measure_latency)
    app.middleware("http")(security_headers)  # outermost: on every answer, 413 too
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/ui", StaticFiles(directory=REVIEW_UI, html=True), name="review_ui")
    return app


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Schema up to date and crash leftovers swept before the first request; the video worker runs meanwhile."""
    state = app.state
    create_schema(state.engine)
    for root in (state.settings.evidence_dir, state.settings.data_dir / "videos"):
        removed = sweep_incoming(root)
        if removed:
            logger.warning("removed %d half-written files under %s left by a crash", removed, root)
    state.worker.start()
    yield
    state.worker.stop()
    close_areas(state.settings.evidence_dir, state.settings.data_dir / "videos")
    state.engine.dispose()


async def refused(_: Request, error: RequestValidationError) -> JSONResponse:
    """A 422 without the refused input: NaN in `input` would make the answer itself fail (a 500)."""
    return JSONResponse({"detail": error_details(error.errors())}, 422)


async def measure_latency(request: Request, call_next: Any) -> Any:
    """Each request's latency, by route (its path template, so that ids do not make a label each)."""
    started = time.perf_counter()
    response = await call_next(request)
    route = request.scope.get("route")
    request.app.state.metrics.latency.labels(path=getattr(route, "path", "other")).observe(
        time.perf_counter() - started
    )
    return response


async def security_headers(request: Request, call_next: Any) -> Any:
    """The security headers (`headers.SECURITY_HEADERS`) on every answer."""
    response = await call_next(request)
    response.headers.update(SECURITY_HEADERS)
    return response
