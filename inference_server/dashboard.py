"""Case statistics per district and street, against the targets of the city plan, and over time.

Rates follow the 12345-hotline style of the city plan, over the cases filed in the window:
- reply (响应率): cases no longer waiting in 立案 (dispatched onwards, or answered 不予立案) / cases filed; target 100%
- completion (办结率): cases closed / cases filed that were not rejected; target ≥ 95%
- satisfaction (满意率): closures rated 4 or 5 / closures with a rating (recorded on closing); target ≥ 90%
Time to close is `updated - created` of a closed case (closing is its last change).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import Session, col

from inference_server.tables import Case

TARGETS = {"reply_rate": 1.0, "completion_rate": 0.95, "satisfaction_rate": 0.90}
OPEN_STATES = frozenset({"filed", "dispatched", "handling", "verifying"})


@dataclass(frozen=True)
class CaseRow:
    district: str
    street: str
    state: str
    created: datetime
    updated: datetime
    deadline: datetime
    satisfaction: int | None


def load_rows(session: Session, since: datetime, district: str | None = None) -> list[CaseRow]:
    """The cases filed since `since` (only the columns the statistics need)."""
    query = select(
        col(Case.district), col(Case.street), col(Case.state), col(Case.created), col(Case.updated),
        col(Case.deadline), col(Case.satisfaction),
    ).where(col(Case.created) >= since)  # fmt: skip
    if district:
        query = query.where(col(Case.district) == district)
    return [
        CaseRow(d or "—", s or "—", state, _aware(created), _aware(updated), _aware(deadline), rating)
        for d, s, state, created, updated, deadline, rating in session.execute(query)
    ]


def rates(rows: list[CaseRow], now: datetime) -> dict[str, Any]:
    """Counts, overdue, median hours to close and the three rates of a group of cases."""
    filed = len(rows)
    closed = [r for r in rows if r.state == "closed"]
    rejected = sum(r.state == "rejected" for r in rows)
    rated = [r.satisfaction for r in closed if r.satisfaction is not None]
    hours = [(r.updated - r.created).total_seconds() / 3600 for r in closed]
    return {
        "filed": filed,
        "closed": len(closed),
        "rejected": rejected,
        "open": sum(r.state in OPEN_STATES for r in rows),
        "overdue": sum(r.state in OPEN_STATES and r.deadline < now for r in rows),
        "closed_late": sum(r.updated > r.deadline for r in closed),
        "median_close_h": round(statistics.median(hours), 1) if hours else None,
        "reply_rate": _ratio(sum(r.state != "filed" for r in rows), filed),
        "completion_rate": _ratio(len(closed), filed - rejected),
        "satisfaction_rate": _ratio(sum(r >= 4 for r in rated), len(rated)),
        "rated": len(rated),
    }


def summary(rows: list[CaseRow], now: datetime, since: datetime, zone: str) -> dict[str, Any]:
    """Totals, districts with their streets (most cases first), and filed / closed per day in the city's zone."""
    by_district: dict[str, list[CaseRow]] = defaultdict(list)
    for row in rows:
        by_district[row.district].append(row)
    districts = []
    for name, group in sorted(by_district.items(), key=lambda item: -len(item[1])):
        by_street: dict[str, list[CaseRow]] = defaultdict(list)
        for row in group:
            by_street[row.street].append(row)
        streets = [{"street": s, **rates(g, now)} for s, g in sorted(by_street.items(), key=lambda i: -len(i[1]))]
        districts.append({"district": name, **rates(group, now), "streets": streets})
    return {"targets": TARGETS, "totals": rates(rows, now), "districts": districts,
            "series": series(rows, since, now, ZoneInfo(zone))}  # fmt: skip


def series(rows: list[CaseRow], since: datetime, now: datetime, zone: ZoneInfo) -> list[dict[str, Any]]:
    """Per local day from `since` to `now`: cases filed, closed, and the open backlog at the end of the day (filed
    in the period and not yet closed or rejected)."""
    first, last = since.astimezone(zone).date(), now.astimezone(zone).date()
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    filed: dict[Any, int] = defaultdict(int)
    closed: dict[Any, int] = defaultdict(int)
    rejected: dict[Any, int] = defaultdict(int)
    for row in rows:
        filed[row.created.astimezone(zone).date()] += 1
        if row.state == "closed":
            closed[row.updated.astimezone(zone).date()] += 1
        elif row.state == "rejected":
            rejected[row.updated.astimezone(zone).date()] += 1
    backlog, points = 0, []
    for day in days:
        backlog += filed[day] - closed[day] - rejected[day]
        points.append({"day": day.isoformat(), "filed": filed[day], "closed": closed[day], "backlog": backlog})
    return points


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
