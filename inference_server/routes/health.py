"""`/healthz` for the load balancer and `/metrics` for Prometheus."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlmodel import func, select, text

from inference_server.deps import AppMetrics, DbEngine, DbSession
from inference_server.tables import Sighting

router = APIRouter(tags=["health"])


@router.get("/metrics")
def prometheus(s: DbSession, metrics: AppMetrics) -> Response:
    pending = s.exec(select(func.count()).select_from(Sighting).where(Sighting.status == "pending")).one()
    metrics.queue.set(pending)
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/healthz")
def healthz(s: DbSession, engine: DbEngine) -> dict[str, str]:
    s.exec(text("SELECT 1"))  # type: ignore[call-overload]
    return {"status": "ok", "database": engine.dialect.name}
