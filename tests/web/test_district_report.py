"""A district officer's report and assignee lists: figures of their districts only (page, CSV, XLSX,
API), and cases offered to, and assigned to, only people who see the case's district.  Dates on the
pages read in the page's language (Babel)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from aiohttp.test_utils import TestClient
from openpyxl import load_workbook
from sqlmodel import Session as DbSession
from sqlmodel import select
from webhelp import csrf_of, login, run_client
from webseed import PASSWORD, USERS

from robocall.accounts import add_user, change_user
from robocall.config import get_settings
from robocall.models import CaseTask, Escalation
from robocall.reports import provincial_report

PHU_LOC, HUE = "Huyện Phú Lộc", "Thành phố Huế"


def test_a_district_officers_report_counts_only_their_districts(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    engine, ids = seeded
    change_user(engine, USERS["viewer"], districts=PHU_LOC)
    tz = get_settings().timezone

    async def scenario(client: TestClient) -> tuple[str, str, bytes, dict]:
        await login(client, "viewer")
        campaign = await (await client.get(f"/api/v1/campaigns/{ids['campaign']}")).json()
        # The campaign's figures and charts per day count the district's people too.
        assert (campaign["follow_ups"], campaign["attempts"], campaign["escalations"]) == (6, 6, 2)
        assert [d["attempts"] for d in campaign["calls_per_day"]] == [2, 2, 2]
        listed = (await (await client.get("/api/v1/campaigns")).json())["campaigns"]
        assert [c["attempts"] for c in listed] == [6]
        page = await (await client.get("/reports")).text()
        csv_text = (await (await client.get("/reports/export.csv")).read()).decode("utf-8-sig")
        xlsx = await (await client.get("/reports/export.xlsx?lang=en")).read()
        api = await (await client.get("/api/v1/report")).json()
        await login(client, "admin")  # the province sees every district's
        campaign = await (await client.get(f"/api/v1/campaigns/{ids['campaign']}")).json()
        assert (campaign["follow_ups"], campaign["attempts"], campaign["escalations"]) == (12, 12, 4)
        assert (await (await client.get("/api/v1/report")).json())["outbound_calls_f1_f2"] == 12
        return page, csv_text, xlsx, api

    page, csv_text, xlsx, api = run_client(make_app(), scenario)
    province = provincial_report(engine, None, None, tz)
    district = provincial_report(engine, None, None, tz, (PHU_LOC,))
    # The seed: two people in each district called three days, the hotline caller on no list, an urgent
    # case of each Huế person and the watch, callback and home-visit cases of Phú Lộc.
    assert (province.outbound_calls_f1_f2, district.outbound_calls_f1_f2) == (12, 6)
    assert (province.inbound_hotline_calls, district.inbound_hotline_calls) == (1, 0)
    assert (province.contacts_monitored, district.contacts_monitored) == (4, 2)
    assert province.escalations_by_level == {"urgent": 2, "callback": 2, "watch": 1, "home_visit": 1}
    assert district.escalations_by_level == {"callback": 1, "watch": 1, "home_visit": 1}
    assert district.sms_sent == 0 < province.sms_sent  # the campaign's numbers are nobody's of Phú Lộc
    assert api == district.to_json() and api["districts"] == [PHU_LOC]
    rows = {r["Mã"]: r["Số lượng"] for r in csv.DictReader(io.StringIO(csv_text))}
    assert rows["districts"] == PHU_LOC and int(rows["outbound_calls_f1_f2"]) == 6
    assert "escalations_urgent" not in rows and int(rows["escalations_home_visit"]) == 1
    sheet = load_workbook(io.BytesIO(xlsx)).active
    assert [c.value for c in sheet[1]][4:6] == ["Districts", PHU_LOC]
    values = {r[0]: r[2] for r in sheet.iter_rows(min_row=3, values_only=True)}
    assert values["outbound_calls_f1_f2"] == 6 and values["inbound_hotline_calls"] == 0
    figures = dict(re.findall(r"<tr><td>([^<]+)</td><td class=\"num\">([^<]*)</td></tr>", page))
    assert figures["Cuộc gọi tự động tới F1/F2"] == "6" and "Cảnh báo mức Khẩn cấp" not in figures
    assert f"Huyện phụ trách: {PHU_LOC}" in page


def _options(html: str, form_id: str) -> list[str]:
    form = re.search(rf'id="{form_id}"(.*?)</form>', html, re.S)
    assert form, form_id
    select = re.search(r'<select name="assignee"[^>]*>(.*?)</select>', form.group(1), re.S)
    assert select, form_id
    return re.findall(r'<option value="([^"]+)"', select.group(1))


def test_cases_go_only_to_users_of_their_district_and_dates_read_in_the_pages_language(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    engine, ids = seeded
    change_user(engine, USERS["cdc_staff"], districts=PHU_LOC)
    add_user(engine, "bs_hue", "cdc_staff", PASSWORD, districts=HUE)
    hue_case, phu_loc_case = ids["urgent_old"], ids["watch"]

    async def scenario(client: TestClient) -> dict[str, object]:
        await login(client, "admin")
        token = await csrf_of(client, "/escalations")
        got: dict[str, object] = {}
        hue_page = await (await client.get(f"/escalations/{hue_case}")).text()
        got["hue_assign"], got["hue_staff_call"] = _options(hue_page, "assign-form"), _options(hue_page, "staff-call-form")
        got["phu_loc_assign"] = _options(await (await client.get(f"/escalations/{phu_loc_case}")).text(), "assign-form")
        got["unknown_caller"] = _options(await (await client.get(f"/escalations/{ids['hotline_case']}")).text(),
                                         "assign-form")
        got["queue_all"] = _options(await (await client.get("/escalations")).text(), "bulk-form")
        got["queue_phu_loc"] = _options(await (await client.get(f"/escalations?district={PHU_LOC}")).text(), "bulk-form")
        refused = await client.post(f"/escalations/{hue_case}/assign",
                                    data={"csrf_token": token, "assignee": USERS["cdc_staff"]})
        got["form"] = (refused.status, await refused.text())
        api = await client.post(f"/api/v1/escalations/{hue_case}/actions", headers={"X-CSRF-Token": token},
                                json={"action": "assign", "assignee": "bs_hue"})
        got["api_ok"] = api.status
        api = await client.post(f"/api/v1/escalations/{phu_loc_case}/actions", headers={"X-CSRF-Token": token},
                                json={"action": "assign", "assignee": "bs_hue"})
        body = await api.json()
        got["api_refused"] = (api.status, body["error"], body["field"])
        bulk = await client.post("/escalations/bulk", data=[
            ("csrf_token", token), ("action", "assign"), ("assignee", USERS["cdc_staff"]),
            ("ids", str(phu_loc_case)), ("ids", str(hue_case))])
        got["bulk"] = (bulk.status, await bulk.text())
        call = await client.post(f"/escalations/{hue_case}/callback", data={
            "csrf_token": token, "kind": "staff_call", "due": "2099-03-02T09:00", "assignee": USERS["cdc_staff"]})
        got["staff_call"] = (call.status, await call.text())
        # Dates on the pages in the page's language (Babel): a person's page, the report, the audit.
        for lang in ("vi", "en"):
            got[f"contact_{lang}"] = await (await client.get(f"/contacts/{ids['contact_0']}?lang={lang}")).text()
            got[f"report_{lang}"] = await (await client.get(f"/reports?from=2021-08-11&to=2021-08-12&lang={lang}")).text()
            await client.get("/reports/export.csv?from=2021-08-11&to=2021-08-12")
            got[f"audit_{lang}"] = await (await client.get(f"/audit?action=export_report&lang={lang}")).text()
        return got

    got = run_client(make_app(), scenario)
    province = sorted([USERS["admin"], USERS["viewer"]])
    assert got["hue_assign"] == got["hue_staff_call"] == sorted([*province, "bs_hue"])
    assert got["phu_loc_assign"] == got["queue_phu_loc"] == sorted([*province, USERS["cdc_staff"]])
    assert got["unknown_caller"] == got["queue_all"] == province
    for name in ("form", "bulk", "staff_call"):
        status, text = got[name]  # type: ignore[misc]
        assert status == 400 and "assignee" in text and USERS["cdc_staff"] in text, (name, text)
    assert got["api_ok"] == 200
    status, error, field = got["api_refused"]  # type: ignore[misc]
    assert status == 400 and field == "assignee" and PHU_LOC in error
    with DbSession(engine) as db:
        # The refused bulk changed neither case, the accepted assignment stands, no callback was made.
        assert db.get(Escalation, hue_case).assignee == "bs_hue"
        assert db.get(Escalation, phu_loc_case).assignee in ("", None)
        made = db.exec(select(CaseTask).where(CaseTask.escalation_id == hue_case)).all()
        assert not [t for t in made if t.due_at.year == 2099]

    vi, en = str(got["contact_vi"]), str(got["contact_en"])
    # Exposure on 5 August 2021, calls at 09:00 Vietnam time on 11-13 August.
    assert "5 thg 8, 2021" in vi and "5 Aug 2021" in en
    assert "11 thg 8, 2021" in vi and "11 Aug 2021" in en
    assert "05/08/2021" not in vi + en
    assert "11 thg 8, 2021 – 12 thg 8, 2021" in str(got["report_vi"])
    assert "11 Aug 2021 – 12 Aug 2021" in str(got["report_en"])
    # The audit keeps ISO days in its details and shows them, and its times, in the page's language.
    audit_vi, audit_en = str(got["audit_vi"]), str(got["audit_en"])
    assert "Từ ngày: 11 thg 8, 2021" in audit_vi and "From: 11 Aug 2021" in audit_en
    assert re.search(r"<td data-label=\"[^\"]+\">\d\d:\d\d:\d\d \d+ thg \d+, \d{4}</td>", audit_vi)
    assert re.search(r"<td data-label=\"[^\"]+\">\d+ [A-Z][a-z]{2,3} \d{4}, \d\d:\d\d:\d\d</td>", audit_en)


def test_moments_follow_the_language_and_the_provinces_time_zone() -> None:
    from robocall.labels import day, moment

    at = dt.datetime(2021, 8, 11, 17, 30, tzinfo=dt.UTC)  # 00:30 on the 12th in Vietnam
    assert moment(at, "vi", "Asia/Ho_Chi_Minh") == "00:30 12 thg 8, 2021"
    assert moment(at, "en", "Asia/Ho_Chi_Minh") == "12 Aug 2021, 00:30"
    assert moment(at.replace(tzinfo=None), "en", "Asia/Ho_Chi_Minh", "seconds") == "12 Aug 2021, 00:30:00"
    assert moment(at, "vi", "Asia/Ho_Chi_Minh", "time") == "00:30"
    assert moment(at, "en", "Europe/London", "date") == "11 Aug 2021"
    assert day(dt.date(2021, 8, 5), "vi", "day_month") == "5/8" and day(dt.date(2021, 8, 5), "en", "day_month") == "05/08"
    assert moment(None, "vi", "Asia/Ho_Chi_Minh") == ""
    with pytest.raises(ValueError, match="unknown date/time kind"):  # a strftime pattern is not a kind
        moment(at, "vi", "Asia/Ho_Chi_Minh", "%d/%m/%Y")
