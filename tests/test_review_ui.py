"""The review UI in a real headless Chromium against the real server (uvicorn on a free port, SQLite): a reviewer
confirms, relabels and fixes a box with the keyboard and the mouse, and the decisions reach the server in the order
made even when one is slow on the way; a supervisor takes the case through the workflow to 结案; the timeline names who
did each step; a reviewer cannot reach the admin page."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from sqlmodel import Session, col, select

from inference_server.db import make_engine
from inference_server.settings import Settings
from inference_server.tables import Case, CaseEvent, CaseSighting, ReviewDecision, Sighting, User
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

if not CHROMIUM.exists():
    pytest.skip(f"needs Chromium at {CHROMIUM} (apt-get install chromium; scripts/setup.sh full does)",
                allow_module_level=True)  # fmt: skip
sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (the dev extra)")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Settings, list[dict[str, Any]]]]:
    """The real server with users per role and four sightings (score order: garbage, bin, garbage, facade)."""
    settings, key = prepare(Settings(data_dir=tmp_path_factory.mktemp("ui") / "data"))
    objects = labelled_objects()
    pick = {name: next(o for o in objects if o.class_name == name) for name in
            ("exposed_garbage", "overflowing_bin", "dirty_facade")}  # fmt: skip
    plan = [("exposed_garbage", 0.95), ("overflowing_bin", 0.9), ("exposed_garbage", 0.85), ("dirty_facade", 0.5)]
    rng = random.Random(7)
    with running_server(settings) as base, httpx2.Client(base_url=base, timeout=30) as http:
        rows = []
        for i, (name, score) in enumerate(plan):
            lat, lon, *_ = random_point(rng, street=i * 3)  # different streets: each confirmation files its own case
            rows.append(post_sighting(http, key, pick[name], ident=f"ui-{i}", when=1_795_000_000.0 + i,
                                      place=(lat, lon), score=score))  # fmt: skip
        yield base, settings, rows


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


CSP_VIOLATIONS: list[str] = []  # what the browser refused under the server's Content-Security-Policy


@pytest.fixture(autouse=True)
def _nothing_refused_by_the_policy() -> Iterator[None]:
    CSP_VIOLATIONS.clear()
    yield
    assert not CSP_VIOLATIONS, CSP_VIOLATIONS


def sign_in(browser: Any, base: str, who: str) -> Any:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.on("console", lambda m: CSP_VIOLATIONS.append(m.text) if "Content Security Policy" in m.text else None)
    page.set_default_timeout(10_000)
    page.goto(f"{base}/ui/")
    page.get_by_label("用户名").fill(who)
    page.get_by_label("密码").fill(PASSWORD)
    page.locator("form.login-card button[type=submit]").click()
    page.wait_for_selector(".topbar nav a")
    return page


def decisions(settings: Settings) -> list[ReviewDecision]:
    engine = make_engine(settings.url)
    with Session(engine) as s:
        rows = list(s.exec(select(ReviewDecision).order_by(col(ReviewDecision.id))).all())
    engine.dispose()
    return rows


def wait_for(condition: Any, page: Any, what: str) -> Any:
    for _ in range(100):
        result = condition()
        if result:
            return result
        page.wait_for_timeout(100)
    raise AssertionError(f"timed out waiting for {what}")


def test_reviewer_decides_with_the_keyboard_and_fixes_a_box_by_drag(server, browser) -> None:  # type: ignore[no-untyped-def]
    base, settings, rows = server
    page = sign_in(browser, base, "reviewer")
    stage = page.locator("[data-testid=stage]")
    assert stage.get_attribute("data-sighting") == str(rows[0]["id"])
    assert page.get_by_test_id("legend").is_visible()
    held: list[Any] = []  # the first decision is held on the way: the next must still reach the server after it
    page.route("**/decision", lambda route: route.continue_() if held else held.append(route))
    page.keyboard.press("Enter")  # confirm
    page.wait_for_selector(f"[data-testid=stage][data-sighting='{rows[1]['id']}']")
    page.keyboard.press("3")  # relabel the bin as exposed garbage (the taxonomy's third class)
    page.wait_for_selector(f"[data-testid=stage][data-sighting='{rows[2]['id']}']")
    wait_for(lambda: held, page, "the confirm on its way")
    page.wait_for_timeout(300)  # time enough for a relabel sent out of turn to be stored first
    held[0].continue_()
    handle = page.locator("[data-handle=bottom-right]").bounding_box()
    x, y = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 30, y - 20, steps=5)
    page.mouse.up()
    assert page.get_by_test_id("box-changed").is_visible()
    page.keyboard.press("Enter")  # confirming a changed box is a fix_box
    page.wait_for_selector(f"[data-testid=stage][data-sighting='{rows[3]['id']}']")
    made = wait_for(lambda: (d := decisions(settings)) and len(d) == 3 and d, page, "three decisions")
    assert [(d.sighting_id, d.action, d.class_name) for d in made] == [
        (rows[0]["id"], "confirm", None),
        (rows[1]["id"], "relabel", "exposed_garbage"),
        (rows[2]["id"], "fix_box", None),
    ]
    fixed, before = made[2].box, rows[2]["box"]
    assert fixed is not None and fixed[:2] == pytest.approx(before[:2], abs=0.6)  # type: ignore[index]
    assert fixed[2] < before[2] - 5 and fixed[3] < before[3] - 5  # type: ignore[index]
    # the server agrees, not only the page: the sightings are confirmed, the bin relabelled
    engine = make_engine(settings.url)
    with Session(engine) as s:
        statuses = {r.id: (r.status, r.class_name) for r in s.exec(select(Sighting)).all()}
    engine.dispose()
    assert statuses[rows[1]["id"]] == ("confirmed", "exposed_garbage") and statuses[rows[3]["id"]][0] == "pending"
    # undo (Z) takes the box fix back: the fixed sighting is shown again, pending
    page.keyboard.press("z")
    page.wait_for_selector(f"[data-testid=stage][data-sighting='{rows[2]['id']}']")
    wait_for(lambda: decisions(settings)[2].undone is not None, page, "the undo")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"[data-testid=stage][data-sighting='{rows[3]['id']}']")
    wait_for(lambda: len(decisions(settings)) == 4, page, "the decision after the undo")
    # a decision the server refuses (another reviewer was first) brings its sighting back onto the stage
    page.unroute("**/decision")
    page.route("**/decision", lambda route: route.fulfill(status=409, json={"detail": "已被其他审核员处理"}))
    page.keyboard.press("x")
    page.wait_for_selector("#toast.toast-error.show")
    assert page.locator("#toast").inner_text() == "已被其他审核员处理"
    page.wait_for_selector(f"[data-testid=stage][data-sighting='{rows[3]['id']}']")
    assert len(decisions(settings)) == 4
    page.unroute("**/decision")
    # no admin page for a reviewer: not in the menu, refused by the page and by the server
    assert page.locator(".topbar nav a[href='#/admin']").count() == 0
    page.goto(f"{base}/ui/#/admin")
    page.wait_for_selector("[data-testid=no-access]")
    assert page.request.get(f"{base}/api/v1/ui/admin/users").status == 403
    page.close()


def test_supervisor_takes_the_case_to_closed_and_the_timeline_names_everyone(server, browser) -> None:  # type: ignore[no-untyped-def]
    base, settings, rows = server
    engine = make_engine(settings.url)
    with Session(engine) as s:
        link = s.exec(select(CaseSighting).where(CaseSighting.sighting_id == rows[0]["id"])).first()
    assert link is not None, "the reviewer test confirms the first sighting"
    page = sign_in(browser, base, "supervisor")
    page.goto(f"{base}/ui/#/cases")
    page.wait_for_selector(f"[data-case='{link.case_id}']")
    page.locator(f"[data-case='{link.case_id}']").click()
    state = page.get_by_test_id("case-state")
    assert state.inner_text() == "立案"

    def act(action: str, expected: str, fill: dict[str, str] | None = None) -> None:
        form = page.locator(f"form[data-action={action}]")
        for name, value in (fill or {}).items():
            form.locator(f"[name={name}]").fill(value)
        form.locator("button[type=submit]").click()
        sync_api.expect(state).to_have_text(expected)  # not wait_for_function: the UI's policy forbids eval

    act("dispatched", "派遣", {"department": "环卫所"})
    act("handling", "处置")
    photo = page.locator("form[data-action=photo]")
    photo.locator("input[type=file]").set_input_files(str(SAMPLES / "images" / "garbage-cn__001249.jpg"))
    photo.locator("[name=note]").fill("整改后")
    photo.locator("button[type=submit]").click()
    page.wait_for_selector(".photos img")
    act("verifying", "核查")
    closing = page.locator("form[data-action=closed]")
    closing.locator("select[name=satisfaction]").select_option("4")
    closing.locator("button[type=submit]").click()  # without the required note: the browser refuses to send it
    assert closing.locator("textarea[name=note]").evaluate("e => e.validity.valueMissing")
    page.wait_for_timeout(300)
    assert state.inner_text() == "核查"
    act("closed", "结案", {"note": "核查通过"})
    steps = page.locator("[data-testid=timeline] li")
    shown = [
        (steps.nth(i).get_attribute("data-to"), steps.nth(i).locator(".who").inner_text()) for i in range(steps.count())
    ]
    assert shown == [("filed", "reviewer"), ("dispatched", "supervisor"), ("handling", "supervisor"),
                     ("handling", "supervisor"), ("verifying", "supervisor"), ("closed", "supervisor")]  # fmt: skip
    with Session(engine) as s:
        case = s.get(Case, link.case_id)
        names = dict(s.exec(select(User.id, User.username)).all())
        trail = s.exec(select(CaseEvent).where(CaseEvent.case_id == link.case_id).order_by(col(CaseEvent.id))).all()
    engine.dispose()
    assert case is not None and (case.state, case.department, case.satisfaction) == ("closed", "环卫所", 4)
    assert [(e.to_state, names[e.user_id]) for e in trail] == shown  # type: ignore[index]
    page.close()


def test_english_and_the_other_pages_render(server, browser) -> None:  # type: ignore[no-untyped-def]
    base, _, rows = server
    page = sign_in(browser, base, "admin")
    page.get_by_role("button", name="English").click()
    page.wait_for_selector("text=Review queue")
    for route, marker in (("#/map", "[data-testid=map] path.area"), ("#/dashboard", ".kpi"),
                          ("#/admin", "[data-testid=admin] tbody tr"), ("#/batch", ".tile")):  # fmt: skip
        page.goto(f"{base}/ui/{route}")
        page.wait_for_selector(marker)
    assert page.locator("html").get_attribute("lang") == "en"
    page.goto(f"{base}/ui/#/review/{rows[0]['id']}")  # a link from the map: decided already, so read-only
    page.wait_for_selector(f"[data-testid=stage][data-sighting='{rows[0]['id']}']")
    assert page.locator(".decided").inner_text().startswith("Decided") and page.get_by_test_id("confirm").count() == 0
    # batch mode: pick the last pending sighting's crop and reject it with R
    page.goto(f"{base}/ui/#/batch")
    page.locator(f".tile[data-id='{rows[3]['id']}']").click()
    assert page.get_by_test_id("selected").inner_text().endswith("1")
    page.keyboard.press("r")
    page.wait_for_selector(".tile", state="detached")
    assert page.request.get(f"{base}/api/v1/ui/sightings/{rows[3]['id']}").json()["status"] == "rejected"
    page.close()


def test_a_reviewer_faster_than_the_queue_sees_the_next_sighting_as_it_arrives(browser, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Three decisions in a row empty the preloaded queue; the refill asked for by the first decision then brings the
    fourth sighting while the third decision is still on its way. The stage shows it at once: it does not stay on
    "queue empty" because the refill that filled it was not the one the last decision waits for."""
    settings, key = prepare(Settings(data_dir=tmp_path / "data"))
    garbage = next(o for o in labelled_objects() if o.class_name == "exposed_garbage")
    rng = random.Random(11)
    with running_server(settings) as base, httpx2.Client(base_url=base, timeout=30) as http:
        rows = []
        for i in range(4):
            lat, lon, *_ = random_point(rng, street=i * 3)
            rows.append(post_sighting(http, key, garbage, ident=f"fast-{i}", when=1_795_000_000.0 + i,
                                      place=(lat, lon), score=0.9 - i / 10))  # fmt: skip
        page = sign_in(browser, base, "reviewer")
        stage = page.locator("[data-testid=stage]")
        assert stage.get_attribute("data-sighting") == str(rows[0]["id"])  # rows 1 and 2 preloaded behind it
        refills: list[Any] = []
        page.route("**/review/next*", lambda route: route.continue_() if refills else refills.append(route))
        last: list[Any] = []
        page.route(f"**/sightings/{rows[2]['id']}/decision", lambda route: last.append(route))
        page.keyboard.press("Enter")
        page.wait_for_selector(f"[data-testid=stage][data-sighting='{rows[1]['id']}']")
        second = f"/sightings/{rows[1]['id']}/decision"
        with page.expect_response(lambda r: r.url.endswith(second)):  # answered before the third: no one waits
            page.keyboard.press("Enter")
        page.wait_for_selector(f"[data-testid=stage][data-sighting='{rows[2]['id']}']")
        page.keyboard.press("Enter")
        page.wait_for_selector("[data-testid=queue-empty]")  # decided faster than the queue refills
        wait_for(lambda: refills and last, page, "the first refill and the third decision held on their way")
        refills[0].continue_()  # the first decision's refill arrives, the third decision is still out
        page.wait_for_selector(f"[data-testid=stage][data-sighting='{rows[3]['id']}']")
        assert [(d.sighting_id, d.action) for d in decisions(settings)] == [(rows[0]["id"], "confirm"),
                                                                             (rows[1]["id"], "confirm")]  # fmt: skip
        last[0].continue_()
        wait_for(lambda: len(decisions(settings)) == 3, page, "the third decision")
        assert stage.get_attribute("data-sighting") == str(rows[3]["id"])
        page.close()
