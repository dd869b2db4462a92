"""The review queue and decisions: the core API's queue and decision, and the review UI's next, grid, undo and
batch rejection (`/api/v1/ui/...`); the logic is `inference_server.review`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import select

from inference_server import review
from inference_server.active_learning import ActiveLearningConfig, informative_queue
from inference_server.deps import AppSettings, City, DbSession, Rescorer, Reviewer, RowId, Viewer, get_or_404
from inference_server.tables import Sighting, SightingPublic
from inference_server.wire import unprocessable

router = APIRouter(tags=["review"])
ui = APIRouter(prefix="/api/v1/ui", tags=["review UI"])
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]


class BatchRejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[Id] = Field(min_length=1, max_length=500)
    note: str = Field(default="", max_length=2000)


class DecisionOut(BaseModel):
    sighting: int
    status: str
    case: int | None


class BatchRejectOut(BaseModel):
    rejected: list[int]
    skipped: list[int]


@router.get("/api/v1/review/queue", response_model=list[SightingPublic])
def review_queue(
    s: DbSession,
    _: Reviewer,
    settings: AppSettings,
    rescorer: Rescorer,
    class_name: str | None = None,
    district: str | None = None,
    min_score: Annotated[float, Query(ge=0, le=1)] = 0.0,
    since: float | None = None,
    order: Annotated[str, Query(pattern="^(score|time|oldest|informative)$")] = "score",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Any:
    informative = order == "informative"  # active learning (inference_server.active_learning)
    wanted = review.QueueFilter(
        class_name=class_name, district=district, min_score=min_score, since=since,
        order="score" if informative else order,
    )  # fmt: skip
    if informative:
        config = ActiveLearningConfig.model_validate(settings.active_learning)
        query = wanted.apply(select(Sighting))
        return informative_queue(s, query, limit, settings.review_threshold, config, rescorer)
    return review.next_pending(s, wanted, limit)


@router.post("/api/v1/sightings/{sighting_id}/decision")
def decide(
    sighting_id: RowId,
    decision: review.DecisionIn,
    s: DbSession,
    reviewer: Reviewer,
    settings: AppSettings,
    city: City,
) -> DecisionOut:
    found = get_or_404(s, Sighting, sighting_id, "sighting")
    try:
        case_id = review.decide(s, found, decision, reviewer.id or 0, settings.case_radius_m, city)
    except review.AlreadyDecided as error:
        raise HTTPException(409, str(error)) from error
    except review.DecisionError as error:
        raise unprocessable(str(error)) from error
    s.commit()
    return DecisionOut(sighting=sighting_id, status=found.status, case=case_id)


@ui.get("/review/next")
def review_next(
    s: DbSession,
    _: Reviewer,
    class_name: str | None = None,
    district: str | None = None,
    min_score: Annotated[float, Query(ge=0, le=1)] = 0.0,
    order: Annotated[str, Query(pattern="^(score|low|time|oldest)$")] = "score",
    exclude: Annotated[list[Id] | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=5)] = 2,
) -> dict[str, Any]:
    """The next pending sightings (the first to show, the rest to preload), each with its spot's history."""
    wanted = review.QueueFilter(
        class_name=class_name, district=district, min_score=min_score, order=order, exclude=exclude or []
    )
    items = [review.with_context(s, row) for row in review.next_pending(s, wanted, limit)]
    return {"pending": review.pending_count(s, wanted), "items": items}


@ui.get("/review/grid")
def review_grid(
    s: DbSession,
    _: Reviewer,
    class_name: str | None = None,
    district: str | None = None,
    order: Annotated[str, Query(pattern="^(score|low|time|oldest)$")] = "low",
    limit: Annotated[int, Query(ge=1, le=200)] = 60,
) -> dict[str, Any]:
    """Batch mode: a page of pending sightings (least sure first), without their spot's history."""
    wanted = review.QueueFilter(class_name=class_name, district=district, order=order)
    rows = review.next_pending(s, wanted, limit)
    return {
        "pending": review.pending_count(s, wanted),
        "items": [SightingPublic.model_validate(r).model_dump(mode="json") for r in rows],
    }


@ui.get("/sightings/{sighting_id}")
def sighting_detail(sighting_id: RowId, s: DbSession, _: Viewer) -> dict[str, Any]:
    """One sighting with its spot's history, its standing decision and its case (going back in the queue)."""
    return review.with_context(s, get_or_404(s, Sighting, sighting_id, "sighting"))


@ui.post("/review/undo")
def review_undo(s: DbSession, who: Reviewer) -> dict[str, Any]:
    """Take back the caller's latest decision; the sighting is pending again (see `review.undo_last`)."""
    try:
        restored = review.undo_last(s, who.id or 0)
    except review.UndoError as error:
        raise HTTPException(409, str(error)) from error
    s.commit()
    s.refresh(restored)
    return review.with_context(s, restored)


@ui.post("/review/reject")
def review_reject_batch(batch: BatchRejectIn, s: DbSession, who: Reviewer) -> BatchRejectOut:
    """Batch mode: reject many obvious false positives at once; decided or unknown ids are skipped."""
    rejected, skipped = review.reject_many(s, batch.ids, who.id or 0, batch.note)
    s.commit()
    return BatchRejectOut(rejected=rejected, skipped=skipped)
