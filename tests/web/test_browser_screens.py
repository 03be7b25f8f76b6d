"""Phone screens and printouts in headless Chromium, at a laptop and a phone width: every table fits
the screen (cards or a scroll box of its own), chart text is readable, the queue is a few screens
long with "load more", the campaign's two charts share one x axis, a finished campaign says so, and
line lists and the report print as sheets.  Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session as DbSession
from test_browser import WIDTHS, _login, _shoot, browser, server  # noqa: F401  (fixtures)
from webseed import DAY1

from robocall.labels import day
from robocall.models import Answer, CallAttempt, Contact, Escalation, utcnow

MIN_TEXT_PX = 11

# The widest things on the page: how far right any element reaches, and the widest table.
OVERFLOW = "document.documentElement.scrollWidth - window.innerWidth"
TABLES_RIGHT = ("Math.max(0, ...[...document.querySelectorAll('main table')].map("
                "t => t.getBoundingClientRect().right)) - window.innerWidth")
# Tables that scroll sideways inside their own box (allowed, but the case pages need none on a phone).
TABLES_SCROLLING = ("[...document.querySelectorAll('main table')].filter(t => t.scrollWidth > t.clientWidth + 1)"
                    ".map(t => t.className)")
# Rendered size of chart text: its font size in the drawing's units times the drawing's scale on screen.
CHART_TEXT_PX = ("[...document.querySelectorAll('svg.chart text')].map(t => "
                 "parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a)")


def _pages(ids: dict[str, int]) -> dict[str, str]:
    return {"case": f"/escalations/{ids['urgent_old']}", "hotline_case": f"/escalations/{ids['hotline_case']}",
            "contact": f"/contacts/{ids['contact_0']}", "home_visits": "/home-visits",
            "campaign": f"/campaigns/{ids['campaign']}", "campaigns": "/campaigns",
            "sms_campaign": f"/sms-campaigns/{ids['sms_campaign']}",
            "report": "/reports?from=2021-08-11&to=2021-08-13", "list": "/lists/symptomatic", "queue": "/escalations"}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("width_name", list(WIDTHS))
def test_every_table_fits_the_screen(server: str, browser, seeded, width_name: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    engine, ids = seeded
    # A call with many answers, long values and a long end reason: what widened the calls table.
    with DbSession(engine) as db:
        at = utcnow() - dt.timedelta(hours=2)
        attempt = CallAttempt(campaign_id=ids["campaign"], contact_id=ids["contact_0"], phone="+84912000001",
                              flow="f1_f2_followup", channel="sms", day=at.date(), state="completed", queued_at=at,
                              answered_at=at, ended_at=at, end_reason="hangup_by_callee_after_timeout")
        db.add(attempt)
        db.flush()
        for question in ("fever", "cough", "short_breath", "temperature", "loss_of_taste", "sore_throat"):
            db.add(Answer(attempt_id=attempt.id or 0, contact_id=ids["contact_0"], question=question, node="q",
                          value="38.5 khó thở từ chiều hôm qua, đã uống hạ sốt"))
        db.commit()
    width, height = WIDTHS[width_name]
    page = browser.new_page(viewport={"width": width, "height": height})
    _login(page, server, "admin")
    for name, path in _pages(ids).items():
        response = page.goto(f"{server}{path}")
        assert response is not None and response.status == 200, path
        page.wait_for_load_state("load")
        assert page.evaluate(OVERFLOW) <= 1, f"{name} is wider than the {width_name} screen"
        # A table wider than its box scrolls inside the box: the box itself ends on the screen.
        assert page.evaluate(TABLES_RIGHT) <= 1, f"a table of {name} ends off the {width_name} screen"
        assert page.evaluate(TABLES_SCROLLING) == [], f"{name} has a table wider than its box"
        _shoot(page, f"screens-{name}-{width_name}")
    page.close()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("width_name", list(WIDTHS))
def test_campaign_charts_are_readable_share_one_axis_and_the_finished_campaign_says_so(
        server: str, browser, seeded, width_name: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    engine, ids = seeded
    # The seed calls on 11-13/08 and each day raised an escalation; one more call on 15/08 raises none,
    # and nobody is called on 14/08.
    with DbSession(engine) as db:
        at = dt.datetime.combine(DAY1 + dt.timedelta(days=4), dt.time(2, 0), dt.UTC)
        db.add(CallAttempt(campaign_id=ids["campaign"], contact_id=ids["contact_1"], phone="+84912000002",
                           flow="f1_f2_followup", day=at.date(), state="completed", queued_at=at, answered_at=at,
                           ended_at=at, end_reason="completed"))
        db.commit()
    width, height = WIDTHS[width_name]
    page = browser.new_page(viewport={"width": width, "height": height})
    _login(page, server, "viewer")
    page.goto(f"{server}/campaigns/{ids['campaign']}")
    sizes = page.evaluate(CHART_TEXT_PX)
    assert sizes and min(sizes) >= MIN_TEXT_PX, f"chart text {min(sizes):.1f}px at {width_name} width"
    # Both charts: every day 11/08-15/08, bars at the same places (bar i of each chart is day i).
    days = [day(DAY1 + dt.timedelta(days=i), "vi", "day_month") for i in range(5)]  # 11/8 .. 15/8 (Babel, vi)
    assert days[0] == "11/8"
    assert [d for d in page.locator("#calls-chart svg text.axis").all_text_contents() if "/" in d] == days
    assert [d for d in page.locator("#esc-chart svg text.axis").all_text_contents() if "/" in d] == days
    calls_bars = page.locator("#calls-chart svg rect title")
    esc_bars = page.locator("#esc-chart svg rect title")
    assert [t.split(" – ")[0] for t in esc_bars.all_text_contents()] == days
    assert [t.split(" – ")[0] for t in calls_bars.all_text_contents()][::2] == days
    calls_x = [page.locator("#calls-chart svg text.axis", has_text=d).first.bounding_box() for d in days]
    esc_x = [page.locator("#esc-chart svg text.axis", has_text=d).first.bounding_box() for d in days]
    assert [round(b["x"]) for b in calls_x if b] == [round(b["x"]) for b in esc_x if b]
    assert [t.rsplit(": ", 1)[1] for t in esc_bars.all_text_contents()][3:] == ["0", "0"]  # drawn, flat
    # Every contact's monitoring ended in 2021 and no follow-up is pending: the campaign is over.
    assert page.inner_text("#campaign-status") == "Đã xong"
    _shoot(page, f"screens-campaign-charts-{width_name}")
    page.goto(f"{server}/campaigns")
    assert page.inner_text(".campaign-status") == "Đã xong"
    page.close()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("width_name", list(WIDTHS))
def test_a_long_queue_is_a_few_screens_with_load_more(
        server: str, browser, seeded, width_name: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    engine, ids = seeded
    with DbSession(engine) as db:
        contact = db.get(Contact, ids["contact_2"])
        assert contact is not None
        db.add_all([Escalation(contact_id=contact.id, flow="f1_f2_followup", rule="co_trieu_chung", level="watch",
                               reason=f"Ho, sốt nhẹ #{i}", created_at=utcnow() - dt.timedelta(minutes=400 + i))
                    for i in range(296)])
        db.commit()
    width, height = WIDTHS[width_name]
    page = browser.new_page(viewport={"width": width, "height": height})
    _login(page, server, "cdc_staff")
    page.select_option("select[name=district]", "Huyện Phú Lộc")
    page.click("#queue-filters button[type=submit]")
    page.wait_for_selector("tr.esc")
    rows = page.locator("tr.esc")
    assert rows.count() == 20 and "district=Huy" in page.url
    screens = page.evaluate("document.documentElement.scrollHeight") / height
    assert screens <= 6, f"the queue's first page is {screens:.1f} {width_name} screens tall"
    _shoot(page, f"screens-queue-first-page-{width_name}")
    first_ids = [r.get_attribute("data-id") for r in rows.all()]
    page.evaluate("window.stayed = true")
    page.click("#load-more")
    page.locator("tr.esc").nth(39).wait_for(timeout=10_000)
    ids_now = [r.get_attribute("data-id") for r in page.locator("tr.esc").all()]
    assert ids_now[:20] == first_ids and len(set(ids_now)) == 40
    # Appended by the script from the next cursor (no page load), the count and the next "load more" follow.
    assert page.evaluate("window.stayed") is True and page.inner_text("#queue-count").startswith("Hiển thị 40 /")
    assert "pages=3" in (page.get_attribute("#load-more", "href") or "")
    assert "pages=2" in page.url and "district=" in page.url  # a reload keeps the rows and the filters
    page.reload()
    assert page.locator("tr.esc").count() == 40
    assert page.input_value("select[name=district]") == "Huyện Phú Lộc"
    assert page.inner_text("#queue-pages") == "1–2"
    page.click("#queue-pager a[rel=next]")
    assert page.locator("tr.esc").count() == 20 and "cursor=" in page.url and "district=" in page.url
    assert page.inner_text("#queue-pages") == "3"
    third = [r.get_attribute("data-id") for r in page.locator("tr.esc").all()]
    assert not set(third) & set(ids_now)  # rows 41-60, after the 40 shown (keyset: none repeated)
    page.close()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("width_name", list(WIDTHS))
def test_line_lists_and_the_report_print_as_sheets(
        server: str, browser, seeded, width_name: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    _, ids = seeded
    width, height = WIDTHS[width_name]
    page = browser.new_page(viewport={"width": width, "height": height})
    _login(page, server, "cdc_staff")
    for name, path in (("list", "/lists/monitoring"), ("report", "/reports?from=2021-08-11&to=2021-08-13")):
        page.goto(f"{server}{path}")
        page.emulate_media(media="print")
        assert not page.is_visible("header.top") and not page.is_visible("form.filters")
        if name == "list":  # the sheet says which list it is, and no other
            assert page.locator(".tabs a").evaluate_all("a => a.filter(x => x.offsetParent).length") == 1
            assert page.is_visible(".tabs a.on")
        table = page.locator("main table").first
        main_box, table_box = page.locator("main").bounding_box(), table.bounding_box()
        assert main_box and table_box and table_box["width"] >= main_box["width"] - 2, name  # full width
        assert page.locator("main thead").first.evaluate("h => getComputedStyle(h).display") == "table-header-group"
        assert page.locator("main table tr").first.evaluate("r => getComputedStyle(r).breakInside") == "avoid"
        _shoot(page, f"screens-print-{name}-{width_name}")
        page.emulate_media(media="screen")
    printed = page.locator("main").inner_text()
    assert "+849" not in printed or "******" in printed
    # A number revealed on the case page prints masked: the sheet leaves the office.
    page.goto(f"{server}/escalations/{ids['urgent_old']}")
    page.click("button.reveal")
    page.locator(".phone", has_text="+84912000001").wait_for(timeout=10_000)
    page.emulate_media(media="print")
    before = page.locator(".phone").evaluate("p => getComputedStyle(p, '::before').content")
    assert "+849******01" in before and page.locator(".phone").evaluate("p => getComputedStyle(p).fontSize") == "0px"
    assert page.locator(".phone ~ a[href^='tel:']").is_hidden()
    breaks = page.locator("main section.card").evaluate_all("s => s.map(e => getComputedStyle(e).breakBefore)")
    assert breaks[0] != "page" and "page" in breaks[1:]  # a section after a section starts a sheet
    _shoot(page, f"screens-print-revealed-case-{width_name}")
    page.close()
