"""Screenshots of the review UI over realistic seeded data, for docs/ui/: `python -m tests.ui_screenshots [out]`.

Seeds a fresh SQLite server in a temporary folder: ~420 sightings from the bundled sample photos over the sample
districts (hot spots repeat, so the spot history shows), reviewed and taken through the case workflow with the real
API; then the workflow's timestamps are moved into the past in the database (decisions and transitions happen in
seconds here, a city's take days), so the dashboard has a history. Needs Chromium at /usr/bin/chromium.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
from sqlmodel import Session, col, select

from inference_server.cases import CityRules
from inference_server.db import make_engine
from inference_server.settings import Settings
from inference_server.tables import Case, CaseEvent, CasePhoto, CaseSighting, Sighting
from testbed.people import PASSWORD
from tests.ui_world import (
    CHROMIUM,
    CHROMIUM_ARGS,
    SAMPLES,
    labelled_objects,
    post_sighting,
    prepare,
    random_point,
    running_server,
)

DAYS = 30
DEPARTMENTS = ["街道城管中队", "环卫所", "区绿化市容局", "市容所", "物业公司"]
# the state a case ends in, by age in days: older cases are mostly closed
FINAL = [("closed", 0.88), ("verifying", 0.02), ("handling", 0.03), ("dispatched", 0.01), ("rejected", 0.06)]
STEPS = ["dispatched", "handling", "verifying", "closed"]
# what shows that a page has its data (a hash change alone makes no request to wait for)
READY = {
    "review-queue": "[data-testid=stage]",
    "batch": ".tile",
    "case-board": ".case-card",
    "case-detail": "[data-testid=timeline] li",
    "map": "[data-testid=map] path.area",
    "dashboard": ".kpi",
}


def token(http: httpx2.Client, who: str) -> dict[str, str]:
    answer = http.post("/api/v1/auth/token", data={"username": who, "password": PASSWORD}).json()
    return {"Authorization": f"Bearer {answer['access_token']}"}


def seed(http: httpx2.Client, key: str, rng: random.Random, count: int = 420) -> None:
    """Sightings through the ingest API, reviewed and worked through the case workflow through the API."""
    objects, now = labelled_objects(), time.time()
    spots = [random_point(rng, street=i % 12) for i in range(70)]
    posted = []
    for i in range(count):
        age_days = min(DAYS - 0.1, rng.expovariate(1 / 9))
        lat, lon, *_ = rng.choice(spots) if rng.random() < 0.7 else random_point(rng)
        place = (lat + rng.gauss(0, 0.00004), lon + rng.gauss(0, 0.00004))
        score = round(min(0.99, max(0.26, rng.betavariate(5, 2))), 3)
        row = post_sighting(http, key, rng.choice(objects), ident=f"car07-{i:04d}", when=now - age_days * 86400,
                            place=place, score=score)  # fmt: skip
        posted.append((age_days, row))
    reviewer, supervisor = token(http, "reviewer"), token(http, "supervisor")
    cases: dict[int, float] = {}
    for age_days, row in sorted(posted, key=lambda pair: -pair[0]):
        if age_days < 0.6 or rng.random() < 0.25:
            continue  # left for the queue
        roll = rng.random()
        decision = {"action": "reject", "note": "误报"} if roll < 0.22 or float(row["score"]) < 0.4 else \
            {"action": "confirm"} if roll < 0.9 else {"action": "fix_box", "box": [v * 0.97 for v in row["box"]]}  # type: ignore[attr-defined]  # fmt: skip
        answer = http.post(f"/api/v1/sightings/{row['id']}/decision", json=decision, headers=reviewer).json()
        if answer.get("case"):
            cases.setdefault(answer["case"], age_days)
    photo = (SAMPLES / "images" / "garbage-street__img93.jpg").read_bytes()
    for case_id, age_days in cases.items():
        final = rng.choices([f for f, _ in FINAL], [w for _, w in FINAL])[0] if age_days > 3 else \
            rng.choice(["filed", "dispatched", "handling", "handling", "verifying", "closed", "closed"])  # fmt: skip

        def move(to: str, case_id: int = case_id, **extra: object) -> None:
            http.post(f"/api/v1/cases/{case_id}/transition", json={"to": to, **extra}, headers=supervisor)

        if final == "rejected":
            move("rejected", note="非城管职责范围，转交物业")
            continue
        for step in STEPS[: STEPS.index(final) + 1] if final != "filed" else []:
            if step == "dispatched":
                move(step, department=rng.choice(DEPARTMENTS), note="请按时限处置")
            elif step == "verifying":
                http.post(f"/api/v1/cases/{case_id}/photos", files={"photo": ("after.jpg", photo, "image/jpeg")},
                          data={"note": "整改完成"}, headers=supervisor)  # fmt: skip
                move(step, note="已整改，申请核查")
            elif step == "closed":
                rating = rng.choices([5, 4, 3, 2], [0.62, 0.28, 0.07, 0.03])[0]
                move(step, note="核查通过，结案", satisfaction=rating)
            else:
                move(step, note="已到场处置")


def backdate(settings: Settings, rng: random.Random) -> None:
    """Move each case's filing to its first sighting's time and spread its events over realistic hours."""
    engine = make_engine(settings.url)
    with Session(engine) as s:
        for case in s.exec(select(Case)).all():
            first = s.exec(
                select(Sighting).join(CaseSighting, col(CaseSighting.sighting_id) == Sighting.id)
                .where(CaseSighting.case_id == case.id).order_by(col(Sighting.best_time))
            ).first()  # fmt: skip
            assert first is not None
            moment = datetime.fromtimestamp(first.best_time, UTC) + timedelta(minutes=rng.uniform(5, 90))
            case.created = moment
            case.deadline = CityRules.load().deadline(case.class_name, moment)
            for event in s.exec(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(col(CaseEvent.id))):
                if event.from_state is not None:
                    hours = {"dispatched": (0.2, 3), "handling": (0.5, 10), "verifying": (1, 30), "closed": (0.5, 8)}
                    moment += timedelta(hours=rng.uniform(*hours.get(event.to_state, (0.1, 2))))
                event.at = min(moment, datetime.now(UTC))
                s.add(event)
            for photo in s.exec(select(CasePhoto).where(CasePhoto.case_id == case.id)):
                photo.uploaded = min(moment, datetime.now(UTC))
                s.add(photo)
            case.updated = min(moment, datetime.now(UTC))
            s.add(case)
        s.commit()
    engine.dispose()


def busy_spot(base: str) -> int | None:
    """A pending sighting whose spot has an open case nearby and earlier sightings: the queue at its most useful."""
    with httpx2.Client(base_url=base, timeout=30) as http:
        reviewer = token(http, "reviewer")
        pending = http.get("/api/v1/review/queue", params={"limit": 500}, headers=reviewer).json()
        for row in pending:
            context = http.get(f"/api/v1/ui/sightings/{row['id']}", headers=reviewer).json()["context"]
            if context["cases"] and len(context["earlier"]) >= 2 and row["class_name"] == "exposed_garbage":
                return int(row["id"])
    return None


def shoot(base: str, out: Path, settings: Settings) -> None:
    from playwright.sync_api import sync_playwright

    engine = make_engine(settings.url)
    with Session(engine) as s:
        week_ago = datetime.now(UTC) - timedelta(days=7)  # a case with its whole history behind it
        detail = s.exec(
            select(Case).where(Case.state == "closed", col(Case.created) < week_ago).order_by(col(Case.id).desc())
        ).first()
    engine.dispose()
    assert detail is not None
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for who, pages in (
            ("reviewer", [("review-queue", f"#/review/{busy_spot(base) or ''}"), ("batch", "#/batch")]),
            ("supervisor", [("case-board", "#/cases"), ("case-detail", f"#/cases/{detail.id}"), ("map", "#/map"),
                            ("dashboard", "#/dashboard")]),
        ):  # fmt: skip
            page = browser.new_page(viewport={"width": 1440, "height": 900}, locale="zh-CN")
            page.goto(f"{base}/ui/")
            page.get_by_label("用户名").fill(who)
            page.get_by_label("密码").fill(PASSWORD)
            page.get_by_role("button", name="登录").first.click()
            page.wait_for_selector(".topbar nav a")
            for name, route in pages:
                page.goto(f"{base}/ui/{route}")
                page.wait_for_selector(READY[name])
                page.wait_for_load_state("networkidle")
                if name == "batch":  # a reviewer mid-way: three obvious false positives picked
                    for tile in page.locator(".tile").all()[:3]:
                        tile.click()
                page.wait_for_timeout(400)
                page.screenshot(
                    path=str(out / f"{name}.png"), full_page=name in ("dashboard", "case-detail", "review-queue")
                )
            page.close()
        browser.close()


def main(out: Path) -> None:
    rng = random.Random(20261127)
    with tempfile.TemporaryDirectory() as folder:
        settings, key = prepare(Settings(data_dir=Path(folder) / "data"))
        with running_server(settings) as base:
            with httpx2.Client(base_url=base, timeout=30) as http:
                seed(http, key, rng)
            backdate(settings, rng)
            shoot(base, out, settings)
    print(f"screenshots in {out}")  # noqa: T201


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "docs" / "ui")
