"""End to end in headless Chromium: CDC staff work an urgent case, the queue changes, an admin sees
the audit entry.  Screenshots of every page at a laptop and a phone width go to
artifacts/screenshots/ (git-ignored)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import socket
import threading
from collections.abc import Iterator

import pytest
from aiohttp import web
from playwright import sync_api
from sqlmodel import Session as DbSession
from sqlmodel import select
from webhelp import ROOT
from webseed import PASSWORD, USERS

from robocall.models import AuditLog, Escalation, utcnow
from robocall.web.keys import SSE_POLL_SECONDS

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
SHOTS = ROOT / "artifacts" / "screenshots"
WIDTHS = {"laptop": (1366, 860), "phone": (390, 844)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(make_app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The real app on a real port, in a thread with its own event loop."""
    app = make_app()
    app[SSE_POLL_SECONDS] = 0.2
    port = _free_port()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    started = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(30)
    yield f"http://127.0.0.1:{port}"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


@pytest.fixture
def browser() -> Iterator[object]:
    if not shutil.which(CHROMIUM):  # `make setup` installs Debian's chromium: its absence is a failure, not a skip
        pytest.fail(f"no Chromium at {CHROMIUM}: run `make setup` (or set CHROMIUM)", pytrace=False)
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def _shoot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _login(page, base: str, role: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/login")
    page.fill("input[name=username]", USERS[role])
    page.fill("input[name=password]", PASSWORD)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(f"{base}/escalations")


@pytest.mark.timeout(300)
def test_staff_work_the_newest_urgent_case_and_admin_sees_the_audit(server: str, browser, seeded) -> None:  # type: ignore[no-untyped-def]
    engine, ids = seeded
    page = browser.new_page(viewport={"width": 1366, "height": 860})
    _login(page, server, "cdc_staff")
    page.select_option("select[name=level]", "urgent")
    page.select_option("select[name=sort]", "newest")
    page.click("#queue-filters button[type=submit]")
    rows = page.locator("tr.esc")
    assert rows.count() == 2
    assert rows.first.get_attribute("data-id") == str(ids["urgent_new"])
    # The older urgent case waited past its 30 minutes: red.
    assert "sla-red" in (page.locator(f'tr.esc[data-id="{ids["urgent_old"]}"] .sla').get_attribute("class") or "")
    page.wait_for_selector("#live:not([hidden])")
    # The newest one's clock ticks on the page: 29 min 57 s old now, red within seconds, no reload.
    with DbSession(engine) as db:
        almost = db.get(Escalation, ids["urgent_new"])
        almost.created_at = utcnow() - dt.timedelta(minutes=29, seconds=57)
        db.add(almost)
        db.commit()
    page.reload()
    page.wait_for_selector("#live:not([hidden])")
    almost_sla = page.locator(f'tr.esc[data-id="{ids["urgent_new"]}"] .sla')
    assert "sla-amber" in (almost_sla.get_attribute("class") or "")
    page.wait_for_selector(f'tr.esc[data-id="{ids["urgent_new"]}"] .sla.sla-red', timeout=15_000)

    # A new urgent case arrives while the page is open: it appears without a reload.
    with DbSession(engine) as db:
        new = Escalation(contact_id=ids["contact_3"], flow="f1_f2_followup", rule="trieu_chung_nang", level="urgent",
                         reason="Khó thở", created_at=utcnow() - dt.timedelta(seconds=5))
        db.add(new)
        db.commit()
        new_id = new.id
    page.wait_for_selector(f'tr.esc[data-id="{new_id}"]', timeout=10_000)
    assert page.locator("tr.esc").first.get_attribute("data-id") == str(new_id)
    assert page.is_visible("#new-notice")

    # Open the newest urgent case, reveal the number, acknowledge, resolve.
    page.locator("tr.esc").first.locator("a").click()
    page.wait_for_url(f"{server}/escalations/{new_id}")
    assert "+849******04" in page.inner_text(".phone")
    page.click("button.reveal")
    # (Locators, not wait_for_function: the page's CSP forbids the eval that one needs.)
    page.locator(".phone", has_text="+84912000004").wait_for(timeout=10_000)
    page.click("#btn-acknowledge")
    page.wait_for_url(f"{server}/escalations/{new_id}")
    assert page.inner_text("#esc-status") == "Đã tiếp nhận"
    page.select_option("#resolve-form select[name=outcome]", "hospital")
    page.fill("#resolve-form input[name=text]", "Chuyển BV Trung ương Huế")
    page.click("#btn-resolve")
    page.wait_for_selector("#timeline .ev-resolved")
    assert page.inner_text("#esc-status") == "Đã xử lý"

    # The queue changed: the resolved case is gone.
    page.goto(f"{server}/escalations?level=urgent&sort=newest")
    assert [r.get_attribute("data-id") for r in page.locator("tr.esc").all()] == [
        str(ids["urgent_new"]), str(ids["urgent_old"])]

    # An admin sees who resolved it and who revealed the number.
    page.click("button.link")  # log out
    _login(page, server, "admin")
    page.goto(f"{server}/audit?actor={USERS['cdc_staff']}")
    actions = [row.get_attribute("data-action") for row in page.locator("tr.audit-row").all()]
    assert {"escalation_resolve", "escalation_acknowledge", "reveal_phone", "view_escalation"} <= set(actions)
    with DbSession(engine) as db:
        resolved = db.exec(select(AuditLog).where(AuditLog.action == "escalation_resolve")).one()
    assert resolved.object_id == str(new_id)
    page.close()


@pytest.mark.timeout(300)
def test_every_page_renders_at_laptop_and_phone_width(server: str, browser, seeded) -> None:  # type: ignore[no-untyped-def]
    _, ids = seeded
    pages = {
        "queue": "/escalations", "escalation": f"/escalations/{ids['urgent_old']}",
        "contact": f"/contacts/{ids['contact_0']}", "search": "/contacts?q=Nguy",
        "hotline_case": f"/escalations/{ids['hotline_case']}", "home_visits": "/home-visits",
        "list_symptomatic": "/lists/symptomatic", "list_non_reporting": "/lists/non_reporting",
        "campaigns": "/campaigns", "campaign": f"/campaigns/{ids['campaign']}",
        "sms_campaigns": "/sms-campaigns", "sms_campaign": f"/sms-campaigns/{ids['sms_campaign']}", "flows": "/diagrams",
        "flow": "/diagrams/f1_f2_followup", "report": "/reports?from=2021-08-11&to=2021-08-13",
        "audit": "/audit", "users": "/users", "settings": "/settings", "queue_en": "/escalations?lang=en",
    }
    for width_name, (width, height) in WIDTHS.items():
        page = browser.new_page(viewport={"width": width, "height": height})
        page.goto(f"{server}/login")
        _shoot(page, f"login-{width_name}")
        _login(page, server, "admin")
        for name, path in pages.items():
            response = page.goto(f"{server}{path}")
            assert response is not None and response.status == 200, (name, path)
            page.wait_for_load_state("load")
            # Nothing wider than the screen (the diagram scrolls inside its own box).
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"{name} is {overflow}px wider than the {width_name} screen"
            _shoot(page, f"{name}-{width_name}")
        page.goto(f"{server}/escalations?lang=vi")
        page.close()
