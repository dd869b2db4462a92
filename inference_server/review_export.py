"""Review decisions as plain records for `streetwatch dataset from-reviews` (datasets.reviews turns them into labels).

A sighting's row already carries the reviewer's corrections (relabel sets its class, fix_box its box), so each
record is the decision plus the sighting as it stands, and where its evidence frame lives.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from inference_server.evidence import evidence_path
from inference_server.tables import ReviewDecision, Sighting


def review_records(session: Session, evidence_dir: Path, since: datetime | None = None) -> list[dict[str, Any]]:
    """Every standing decision made at or after `since` (all when None), oldest first, with its sighting's final
    label; decisions a reviewer took back (undo in the review UI) are left out."""
    query = select(ReviewDecision, Sighting).where(
        col(ReviewDecision.sighting_id) == col(Sighting.id), col(ReviewDecision.undone).is_(None)
    )
    if since is not None:
        query = query.where(col(ReviewDecision.decided) >= since)
    rows = session.exec(query.order_by(col(ReviewDecision.id))).all()
    return [
        {
            "decision_id": decision.id,
            "sighting_id": sighting.id,
            "action": decision.action,
            "class_name": sighting.class_name,
            "box": tuple(float(v) for v in sighting.box),
            "frame_sha256": sighting.frame_sha256,
            "frame_path": str(evidence_path(evidence_dir, sighting.frame_sha256)),
            "decided": decision.decided.isoformat(),
            "model": sighting.model,
        }
        for decision, sighting in rows
    ]
