"""Line lists, contact search, campaigns, flows, reports and exports, the audit log, users, languages."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from openpyxl import load_workbook
from sqlmodel import Session as DbSession
from sqlmodel import select
from webhelp import ROOT, csrf_of, login, run_client
from webseed import USERS

from robocall.accounts import User
from robocall.config import get_settings, reset_settings
from robocall.models import AuditLog
from robocall.reports import provincial_report
from robocall.web.i18n import TEXTS


def _get_texts(app, role: str, *paths: str) -> list[str]:  # type: ignore[no-untyped-def]
    async def scenario(client: TestClient) -> list[str]:
        await login(client, role)
        return [await (await client.get(p)).text() for p in paths]
    return run_client(app, scenario)


def test_line_lists_put_each_person_where_public_health_expects(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    # The seeded cases were raised just now (the queue's clocks need that): the symptomatic list as of tomorrow.
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).date().isoformat()
    symptomatic, non_reporting, monitoring, closed, search, search_digits = _get_texts(
        make_app(), "viewer", f"/lists/symptomatic?as_of={tomorrow}", "/lists/non_reporting",
        "/lists/monitoring?as_of=2021-08-13", "/lists/closed?as_of=2021-08-13", "/contacts?q=bình",
        "/contacts?q=0912 000 003")
    names = ["Nguyễn Văn An", "Trần Thị Bình", "Lê Văn Cường", "Phạm Thị Dung"]

    def present(html: str) -> list[str]:
        return [n for n in names if n in html]

    assert present(symptomatic) == ["Nguyễn Văn An", "Trần Thị Bình", "Lê Văn Cường"]
    assert present(non_reporting) == ["Phạm Thị Dung"]  # as of the last follow-up day, unreached
    assert present(monitoring) == ["Nguyễn Văn An", "Trần Thị Bình", "Lê Văn Cường"]
    assert present(closed) == ["Phạm Thị Dung"]  # monitoring ended 12/08
    assert present(search) == ["Trần Thị Bình"] and present(search_digits) == ["Lê Văn Cường"]
    assert "+84912000002" not in search and "+849******02" in search


def test_line_list_exports_as_csv_with_masked_phones_and_is_audited(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    engine, _ = seeded
    body = _get_texts(make_app(), "viewer", "/lists/monitoring/export.csv?as_of=2021-08-13&district=Thành phố Huế")[0]
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    assert [r["name"] for r in rows] == ["Nguyễn Văn An", "Trần Thị Bình"]
    assert rows[0]["phone_masked"] == "'+849******01" and "+84912000001" not in body
    with DbSession(engine) as db:
        entry = db.exec(select(AuditLog).where(AuditLog.action == "export_line_list")).one()
    assert entry.detail["list"] == "monitoring" and entry.detail["rows"] == 2


def test_line_list_screen_is_one_page_but_the_export_is_whole(make_app, seeded, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import robocall.web.list_query as list_query
    import robocall.web.routes.lists as list_routes
    monkeypatch.setattr(list_query, "PAGE_SIZE", 1)
    monkeypatch.setattr(list_routes, "EXPORT_CHUNK", 2)  # the export streams in chunks: 2 + 1 rows
    page, export = _get_texts(make_app(), "viewer", "/lists/monitoring?as_of=2021-08-13",
                              "/lists/monitoring/export.csv?as_of=2021-08-13")
    assert page.count('<a href="/contacts/') == 1 and "1–1 / 3" in page and 'id="page-next"' in page
    assert [r["name"] for r in csv.DictReader(io.StringIO(export.lstrip("\ufeff")))] == [
        "Lê Văn Cường", "Nguyễn Văn An", "Trần Thị Bình"]  # by district (Huyện... before Thành phố...)


def test_campaign_page_shows_progress_rates_and_charts(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    _, ids = seeded
    listing, page = _get_texts(make_app(), "viewer", "/campaigns", f"/campaigns/{ids['campaign']}")
    assert "Theo dõi F1/F2" in listing
    # The SMS section plugs in through EXTRA_CAMPAIGN_SECTIONS and links to the SMS pages.
    assert 'id="sms-section"' in listing and 'href="/sms-campaigns"' in listing and "Có 1 chiến dịch SMS" in listing
    # 12 attempts, 10 answered; 12 follow-ups all closed; 4 escalations raised by this campaign's calls.
    assert "83,3%" in page and "100,0%" in page  # Vietnamese decimal comma
    assert page.count('<svg class="chart"') == 2
    assert page.count("<rect") >= 3 * 2 + 3  # calls and answered per day, escalations per day


def _carrier_table(html: str) -> dict[str, dict[str, str]]:
    import re
    table: dict[str, dict[str, str]] = {}
    for carrier, row in re.findall(r'<tr class="carrier" data-carrier="([^"]+)">(.*?)</tr>', html, re.S):
        table[carrier] = dict(re.findall(r'data-state="(\w+)">([^<]*)</td>', row))
    return table


def test_sms_campaign_pages_show_delivery_per_carrier(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    from robocall.sms_models import SmsCampaign, SmsInvalidRecipient, SmsMessage

    engine, _ = seeded
    at = dt.datetime(2021, 8, 12, 1, 0, tzinfo=dt.UTC)
    # carrier: states of its messages, one entry per message
    states = {
        "mobifone": ["queued", "queued", "submitted", "accepted", "delivered", "delivered", "delivered",
                     "failed", "expired"],
        "vietnamobile": ["delivered", "failed", "failed", "expired", "expired"],
    }
    with DbSession(engine) as db:
        campaign = SmsCampaign(name="Tiêm chủng mũi 2", template="Mời ông/bà đi tiêm mũi 2 tại trạm y tế xã.",
                               status="paused", recipients=14, invalid=2, created_at=at)
        db.add(campaign)
        db.flush()
        n = 0
        for carrier, carrier_states in states.items():
            for state in carrier_states:
                n += 1
                db.add(SmsMessage(campaign_id=campaign.id, phone=f"+849870000{n:02d}", carrier=carrier,
                                  gateway="gw", encoding="UCS-2", segments=2, state=state, queued_at=at))
        db.add(SmsInvalidRecipient(campaign_id=campaign.id, row=2, value="abc", reason="invalid_phone"))
        db.add(SmsInvalidRecipient(campaign_id=campaign.id, row=5, value="0123", reason="invalid_phone"))
        db.commit()
        campaign_id = campaign.id

    listing, page, page_en, missing = _get_texts(
        make_app(), "viewer", "/sms-campaigns", f"/sms-campaigns/{campaign_id}",
        f"/sms-campaigns/{campaign_id}?lang=en", "/sms-campaigns/999999")
    assert "Tiêm chủng mũi 2" in listing and "Nhắc khai báo y tế" in listing
    import re
    row = re.search(rf'<tr class="sms-campaign" data-id="{campaign_id}">(.*?)</tr>', listing, re.S)
    assert row is not None
    cells = dict(re.findall(r'class="n-(\w+)">([^<]*)</td>', row.group(1)))
    assert cells == {"recipients": "14", "sent": "5", "delivered": "4", "failed": "3"}
    assert "Kết quả gửi theo nhà mạng" in page and "Delivery by carrier" in page_en
    assert 'id="sms-status" data-status="paused">Tạm dừng<' in page and 'id="sms-invalid">2<' in page
    assert "Mời ông/bà đi tiêm mũi 2 tại trạm y tế xã." in page
    assert 'id="sms-encoding">UCS-2 (có dấu)<' in page and 'id="sms-segments">28<' in page
    assert _carrier_table(page) == {
        "mobifone": {"queued": "2", "submitted": "1", "accepted": "1", "delivered": "3", "failed": "1",
                     "expired": "1", "rate": "33,3%"},
        "vietnamobile": {"queued": "0", "submitted": "0", "accepted": "0", "delivered": "1", "failed": "2",
                         "expired": "2", "rate": "20,0%"},
        "total": {"queued": "2", "submitted": "1", "accepted": "1", "delivered": "4", "failed": "3",
                  "expired": "3", "rate": "28,6%"},
    }
    assert "404" in missing or "no such SMS campaign" in missing


def test_sms_pages_need_a_login_and_robocall_does_not_import_sms_at_module_level(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    async def scenario(client: TestClient) -> list[int]:
        return [(await client.get(p, allow_redirects=False)).status for p in ("/sms-campaigns", "/sms-campaigns/1")]
    assert run_client(make_app(), scenario) == [302, 302]
    code = "import sys, robocall.web.routes, robocall.web.sms_stats; print('sms' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


def test_flow_pages_draw_the_diagram_and_show_refused_flows(make_app, monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    shutil.copy(ROOT / "ivr_flows" / "hotline.yaml", tmp_path)
    shutil.copy(ROOT / "tests" / "flows" / "broken" / "unreachable.yaml", tmp_path)
    monkeypatch.setenv("FLOWS_DIR", str(tmp_path))
    reset_settings()

    async def scenario(client: TestClient) -> tuple[str, str, bytes]:
        await login(client, "viewer")
        listing = await (await client.get("/diagrams")).text()
        page = await (await client.get("/diagrams/hotline")).text()
        svg = await (await client.get("/diagrams/hotline/diagram.svg")).read()
        assert (await client.get("/diagrams/unreachable")).status == 404
        return listing, page, svg

    listing, page, svg = run_client(make_app(), scenario)
    assert "hotline" in listing and "không bao giờ tới được" in listing and "can never be reached" in listing
    assert "/diagrams/hotline/diagram.svg" in page
    assert svg.lstrip().startswith(b"<?xml") and b"<svg" in svg


def test_report_page_and_exports_match_the_provincial_report(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    engine, _ = seeded
    query = "from=2021-08-11&to=2021-08-12"

    async def scenario(client: TestClient) -> tuple[str, bytes, bytes, str]:
        await login(client, "viewer")
        page = await (await client.get(f"/reports?{query}")).text()
        csv_body = await (await client.get(f"/reports/export.csv?{query}")).read()
        xlsx = await client.get(f"/reports/export.xlsx?{query}")
        assert "attachment" in xlsx.headers["Content-Disposition"]
        bad = await client.get("/reports?from=2021-08-12&to=2021-08-11")
        assert bad.status == 400
        # In English the report is English on screen and in both exports' headers and labels.
        page_en = await (await client.get(f"/reports?{query}&lang=en")).text()
        assert "Robot calls to F1/F2" in page_en and "Cuộc gọi tự động" not in page_en
        csv_en = (await (await client.get(f"/reports/export.csv?{query}&lang=en")).read()).decode("utf-8-sig")
        assert csv_en.splitlines()[0] == "Key,Figure,Value" and "Robot calls to F1/F2" in csv_en
        xlsx_en = load_workbook(io.BytesIO(await (await client.get(f"/reports/export.xlsx?{query}&lang=en")).read())).active
        assert [c.value for c in xlsx_en[2]][:3] == ["Key", "Figure", "Value"]
        assert xlsx_en["B3"].value == "Robot calls to F1/F2"
        await client.get("/reports?lang=vi")
        return page, csv_body, await xlsx.read(), await (await client.get(f"/api/v1/report?{query}")).text()

    page, csv_body, xlsx, api = run_client(make_app(), scenario)
    expected = provincial_report(engine, dt.date(2021, 8, 11), dt.date(2021, 8, 12), get_settings().timezone)
    rows = {r["Mã"]: r["Số lượng"] for r in csv.DictReader(io.StringIO(csv_body.decode("utf-8-sig")))}
    assert int(rows["outbound_calls_f1_f2"]) == expected.outbound_calls_f1_f2 == 8
    assert int(rows["calls_answered"]) == expected.calls_answered
    assert int(rows["non_reporting_contacts"]) == expected.non_reporting_contacts == 1
    sheet = load_workbook(io.BytesIO(xlsx)).active
    values = {r[0]: r[2] for r in sheet.iter_rows(min_row=3, values_only=True)}
    assert values["outbound_calls_f1_f2"] == 8 and values["calls_answered"] == expected.calls_answered
    assert "Cuộc gọi tự động tới F1/F2" in page
    assert '"outbound_calls_f1_f2": 8' in api


def test_admin_sees_the_audit_log_and_adds_users(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    engine, ids = seeded

    async def scenario(client: TestClient) -> str:
        await login(client, "viewer")
        await client.get(f"/escalations/{ids['watch']}")
        await login(client, "admin")
        token = await csrf_of(client, "/users")
        response = await client.post("/users", data={"csrf_token": token, "username": "bs_moi", "role": "cdc_staff",
                                                     "password": "mot mat khau dai"}, allow_redirects=False)
        assert response.status == 303
        bad = await client.post("/users", data={"csrf_token": token, "username": "bs_moi", "role": "cdc_staff",
                                                "password": "mot mat khau dai"})
        assert bad.status == 400 and "already exists" in await bad.text()
        return await (await client.get(f"/audit?actor={USERS['viewer']}")).text()

    html = run_client(make_app(), scenario)
    assert "view_escalation" in html and f"/escalations/{ids['watch']}" in html
    with DbSession(engine) as db:
        assert db.exec(select(User).where(User.username == "bs_moi")).one().role == "cdc_staff"
        assert db.exec(select(AuditLog).where(AuditLog.action == "user_add")).one().actor == USERS["admin"]


def test_vietnamese_first_english_on_request_and_remembered(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    async def scenario(client: TestClient) -> list[str]:
        await login(client, "viewer")
        vi = await (await client.get("/escalations")).text()
        en = await (await client.get("/escalations?lang=en")).text()
        still_en = await (await client.get("/campaigns")).text()
        return [vi, en, still_en]

    vi, en, still_en = run_client(make_app(), scenario)
    assert "Hàng đợi cảnh báo" in vi and 'lang="vi"' in vi
    assert "Escalation queue" in en and 'lang="en"' in en
    assert "Campaigns" in still_en


def test_every_text_has_both_languages_and_templates_use_only_known_keys() -> None:
    import re
    for key, (vi, en) in TEXTS.items():
        assert vi and en, key
    used = set()
    for template in (ROOT / "robocall" / "web" / "templates").glob("*.html"):
        used |= set(re.findall(r"\bt\('([a-z_]+)'(?! ~)", template.read_text(encoding="utf-8")))
    assert used - set(TEXTS) == set()


@pytest.mark.parametrize("path", ["/api/v1/escalations", "/api/v1/lists/non_reporting", "/api/v1/contacts?q=An"])
def test_api_masks_phone_numbers(make_app, seeded, path: str) -> None:  # type: ignore[no-untyped-def]
    body = _get_texts(make_app(), "viewer", path)[0]
    assert '"phone_masked": "+849' in body and "+84912" not in body


def test_api_actions_need_the_csrf_header_and_the_role(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    _, ids = seeded
    url = f"/api/v1/escalations/{ids['urgent_new']}/actions"

    async def scenario(client: TestClient) -> list[object]:
        await login(client, "cdc_staff")
        session = await (await client.get("/api/v1/session")).json()
        out: list[object] = [(await client.post(url, json={"action": "acknowledge"})).status]
        ok = await client.post(url, json={"action": "acknowledge"}, headers={"X-CSRF-Token": session["csrf_token"]})
        out.append(await ok.json())
        bad = await client.post(url, json={"action": "explode"}, headers={"X-CSRF-Token": session["csrf_token"]})
        out.append(bad.status)
        detail = await (await client.get(f"/api/v1/escalations/{ids['urgent_new']}")).json()
        out.append([e["kind"] for e in detail["timeline"]])
        return out

    assert run_client(make_app(), scenario) == [
        403, {"status": "acknowledged", "event": {"kind": "acknowledged", "text": ""}}, 400,
        ["created", "acknowledged"]]


def test_openapi_document_describes_every_api_route_and_nothing_else(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app()

    async def scenario(client: TestClient) -> dict:
        return await (await client.get("/api/v1/openapi.json")).json()

    document = run_client(app, scenario)
    assert document["openapi"].startswith("3.")
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    served = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter", "")
        if path.startswith("/api/v1/") and route.method != "HEAD":  # /api/sms/ is the SMS side's own API
            served.add((route.method, path))
    assert documented == served


def test_settings_page_never_shows_secrets(make_app, seeded, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("REDIS_URL", "redis://:hunter2pass@127.0.0.1:6379/14")
    monkeypatch.setenv("SMS_API_TOKEN", "tok-abcdef-123")
    reset_settings()
    html = _get_texts(make_app(), "admin", "/settings")[0]
    assert "ESCALATION_SLA" in html and "LOGIN_MAX_FAILURES" in html
    assert "test secret" not in html and "hunter2pass" not in html and "••••" in html
    assert "tok-abcdef-123" not in html


def test_pages_carry_security_headers_and_personal_pages_are_not_cached(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    async def scenario(client: TestClient) -> list[dict[str, str]]:
        anonymous = dict((await client.get("/escalations", allow_redirects=False)).headers)
        await login(client, "viewer")
        return [anonymous, dict((await client.get("/escalations")).headers)]

    anonymous, page = run_client(make_app(), scenario)
    for headers in (anonymous, page):
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
    assert page["Cache-Control"] == "no-store"
