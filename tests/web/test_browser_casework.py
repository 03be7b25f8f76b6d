"""Casework end to end in headless Chromium, at a laptop and a phone width: a hotline caller on no
list asks for a callback, staff make them a contact and schedule a robot call, the dialer places it
at its due time and the answers join the case; a home visit's worksheet prints the address; a
district officer sees nothing of another district.  Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session as DbSession
from sqlmodel import select
from test_browser import WIDTHS, _login, _shoot, browser, server  # noqa: F401  (fixtures)
from webseed import HOTLINE_CALLER, PASSWORD

from robocall.accounts import add_user
from robocall.call_policy import policy_from_settings
from robocall.campaigns.dialer import DialLimits, dial_tick
from robocall.campaigns.jobs import follow_up_mover
from robocall.config import get_settings
from robocall.conversations.calls import RecordedCalls
from robocall.flows.catalog import flow_catalog
from robocall.flows.engine import Digits, HangUp
from robocall.labels import moment
from robocall.models import AuditLog, CallState, CaseTask, Contact

# fever, cough, 38.5 on the follow-up flow: the robot call's answers make the rule trieu_chung_nang fire.
URGENT = ["1", "1", "1", "2", "2", "2", "385#", "1", "2"]


def _robot_call_at(engine, due: dt.datetime, keys: list[str]) -> int:  # type: ignore[no-untyped-def]
    """What a worker does at the due time: the dialer's tick, then the call as a backend drives it."""
    settings = get_settings()
    policy = policy_from_settings(settings)
    planned = dial_tick(engine, due, due + dt.timedelta(minutes=1), policy, DialLimits())
    assert len(planned) == 1, planned
    flows = flow_catalog(settings).flows
    calls = RecordedCalls(engine, flows, policy.tz, after_outbound=follow_up_mover(settings, policy))
    at = planned[0].start_at
    handler = calls.outbound(planned[0].attempt_id, at)
    actions = handler.answered(at + dt.timedelta(seconds=3))
    for key in keys:
        if any(isinstance(a, HangUp) for a in actions):
            break
        at += dt.timedelta(seconds=5)
        actions = handler.event(Digits(key), at)
    handler.ended(CallState.COMPLETED, at)
    return planned[0].attempt_id


def _tomorrow_nine(tz) -> dt.datetime:  # type: ignore[no-untyped-def]
    local = dt.datetime.now(tz).date() + dt.timedelta(days=1)
    return dt.datetime.combine(local, dt.time(9, 0), tz)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("width_name", list(WIDTHS))
def test_a_hotline_callers_callback_becomes_a_robot_call_whose_answers_join_the_case(
        server: str, browser, seeded, width_name: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    engine, ids = seeded
    width, height = WIDTHS[width_name]
    page = browser.new_page(viewport={"width": width, "height": height})
    _login(page, server, "cdc_staff")
    case = ids["hotline_case"]

    # The caller is on no list: the case shows the calling number, masked, and reveals it (audited).
    page.goto(f"{server}/escalations/{case}")
    assert page.inner_text(f"#case-phone-{case}") == "+849******11"
    # The answer that made the rule fire (menu_choice == "callback") stands out, by its display names.
    assert page.inner_text(".answer.fired") == "Lựa chọn: Đề nghị cán bộ gọi lại"
    assert page.locator(".answer.fired").count() == 1
    _shoot(page, f"casework-hotline-case-{width_name}")
    page.click(f'button.reveal[data-case="{case}"]')
    page.locator(f"#case-phone-{case}", has_text=HOTLINE_CALLER).wait_for(timeout=10_000)

    # Staff make the caller a contact from the case.
    page.fill("#make-contact input[name=name]", "Hoàng Văn Em")
    page.fill("#make-contact input[name=address]", "27 Hùng Vương")
    page.fill("#make-contact input[name=district]", "Thành phố Huế")
    page.fill("#make-contact input[name=commune]", "Phú Hội")
    page.fill("#make-contact input[name=birth_year]", "1975")
    page.click("#btn-make-contact")
    page.wait_for_selector("#person-name")
    assert page.inner_text("#person-name") == "Hoàng Văn Em"
    assert page.inner_text("#person-address") == "27 Hùng Vương"

    # "Đề nghị gọi lại": a robot call of the follow-up flow tomorrow at 09:00 (inside the call window).
    tz = get_settings().tzinfo
    due = _tomorrow_nine(tz)
    page.select_option("#robot-call-form select[name=flow]", "f1_f2_followup")
    page.fill("#robot-call-form input[name=due]", due.strftime("%Y-%m-%dT%H:%M"))
    page.click("#btn-robot-call")
    page.wait_for_selector('#tasks tr.task-pending[data-kind="robot_call"]')
    assert page.inner_text("#timeline .ev-scheduled_robot_call").count("f1_f2_followup") == 1
    # The queue shows when the case's callback is due.
    page.goto(f"{server}/escalations")
    assert moment(due, "vi", tz) in page.inner_text(f'tr.esc[data-id="{case}"] .due')
    _shoot(page, f"casework-queue-callback-due-{width_name}")

    # At the due time the dialer places the call; the person answers the flow's questions.
    attempt_id = _robot_call_at(engine, due.astimezone(dt.UTC), URGENT)
    page.goto(f"{server}/escalations/{case}")
    result = page.inner_text("#timeline .ev-callback_call")
    assert "fever: có" in result and "temperature: 38.5" in result
    assert page.inner_text('#tasks tr[data-kind="robot_call"] .task-state') == "Đã xong"
    assert page.locator(f'tr[data-attempt="{attempt_id}"]').count() == 1  # the call among the person's calls
    _shoot(page, f"casework-callback-answered-{width_name}")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the case page is {overflow}px wider than the {width_name} screen"
    with DbSession(engine) as db:
        contact = db.exec(select(Contact).where(Contact.phone == HOTLINE_CALLER)).one()
        task = db.exec(select(CaseTask).where(CaseTask.escalation_id == case)).one()
        actions = {a.action for a in db.exec(select(AuditLog)).all()}
    assert (contact.name, contact.category, contact.birth_year) == ("Hoàng Văn Em", "other", 1975)
    assert (task.kind, task.state, task.flow) == ("robot_call", "done", "f1_f2_followup")
    assert {"reveal_phone", "contact_from_case", "escalation_callback"} <= actions
    page.close()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("width_name", list(WIDTHS))
def test_a_home_visit_worksheet_prints_the_address_staff_entered(
        server: str, browser, seeded, width_name: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    engine, ids = seeded
    width, height = WIDTHS[width_name]
    page = browser.new_page(viewport={"width": width, "height": height})
    _login(page, server, "cdc_staff")
    page.goto(f"{server}/escalations/{ids['home_visit']}")
    page.click("#edit-contact summary")
    page.fill("#edit-contact input[name=address]", "Thôn 3, xã Vinh Hưng")
    page.fill("#edit-contact input[name=birth_year]", "1962")
    page.fill("#edit-contact textarea[name=notes]", "Nhà cạnh trạm y tế")
    page.click("#btn-save-contact")
    page.wait_for_selector("#person-address")
    assert page.inner_text("#person-address") == "Thôn 3, xã Vinh Hưng"

    page.goto(f"{server}/home-visits")
    page.select_option("#visit-filters select[name=commune]", "Vinh Hưng")
    page.click("#visit-filters button[type=submit]")
    row = page.locator(f'tr.visit[data-id="{ids["home_visit"]}"]')
    assert row.count() == 1 and page.locator("tr.visit").count() == 1
    assert "Thôn 3, xã Vinh Hưng" in row.inner_text() and "+849******04" in row.inner_text()
    assert "1962" in row.inner_text() and "Nhà cạnh trạm y tế" in row.inner_text()
    _shoot(page, f"casework-home-visits-{width_name}")
    # Printed: the sheet alone, no navigation or buttons, the address still there.
    page.emulate_media(media="print")
    assert not page.is_visible("header.top") and not page.is_visible("#visit-filters")
    assert page.is_visible(f'tr.visit[data-id="{ids["home_visit"]}"] .address')
    _shoot(page, f"casework-home-visits-print-{width_name}")
    with DbSession(engine) as db:
        edit = db.exec(select(AuditLog).where(AuditLog.action == "contact_edit")).one()
    assert edit.object_id == str(ids["contact_3"]) and edit.detail["fields"] == ["address", "birth_year", "notes"]
    page.close()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("width_name", list(WIDTHS))
def test_a_district_officer_sees_nothing_of_another_district(
        server: str, browser, seeded, width_name: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    engine, ids = seeded
    add_user(engine, "can_bo_phu_loc", "cdc_staff", PASSWORD, "Huyện Phú Lộc")
    width, height = WIDTHS[width_name]
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(f"{server}/login")
    page.fill("input[name=username]", "can_bo_phu_loc")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(f"{server}/escalations")
    shown = {r.get_attribute("data-id") for r in page.locator("tr.esc").all()}
    assert shown == {str(ids["watch"]), str(ids["home_visit"])}  # Phú Lộc's; not Huế's, not the unknown caller's
    assert "Thành phố Huế" not in page.inner_text("#queue-filters")
    _shoot(page, f"casework-district-officer-queue-{width_name}")
    for path in (f"/escalations/{ids['urgent_old']}", f"/contacts/{ids['contact_0']}",
                 f"/escalations/{ids['hotline_case']}", f"/api/v1/escalations/{ids['urgent_old']}"):
        response = page.goto(f"{server}{path}")
        assert response is not None and response.status == 404, path
    page.goto(f"{server}/lists/symptomatic")
    assert "Nguyễn Văn An" not in page.inner_text("main")
    export = page.request.get(f"{server}/lists/monitoring/export.csv")
    assert "Phú Lộc" in export.text() and "Thành phố Huế" not in export.text()
    api = page.request.get(f"{server}/api/v1/escalations?status=all").json()
    assert {r["district"] for r in api["rows"]} == {"Huyện Phú Lộc"}
    page.goto(f"{server}/escalations/{ids['home_visit']}")
    assert page.is_visible("#btn-acknowledge")  # and acts on their own district's cases
    page.close()
