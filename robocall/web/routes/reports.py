"""The provincial report over a date range, on screen and as CSV or XLSX."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from robocall.accounts import Role
from robocall.labels import day
from robocall.reports import DISTRICTS, ProvincialReport, coverage, in_language, report_rows
from robocall.tabular import csv_text, xlsx_bytes
from robocall.web.audit import audit
from robocall.web.i18n import pick_language
from robocall.web.keys import VOCABULARY
from robocall.web.reporting import report_for
from robocall.web.security import requires
from robocall.web.templating import render

routes = web.RouteTableDef()
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_HEADER = (["Mã", "Chỉ tiêu", "Số lượng"], ["Key", "Figure", "Value"])
SHEET_TITLE = ("Báo cáo", "Report")
PERIOD = (("Từ ngày", "Đến ngày"), ("From", "To"))


@routes.get("/reports")
@requires(Role.VIEWER)
async def report_page(request: web.Request) -> web.Response:
    report = await report_for(request)
    lang = pick_language(request)
    rows = report_rows(report, request.app[VOCABULARY], lang)
    return render(request, "report.html", {"report": report, "rows": rows,
                                           "period": f"{_day(report.period_from, lang)} – {_day(report.period_to, lang)}",
                                           "start": request.query.get("from", ""), "end": request.query.get("to", "")})


def _day(iso: str, lang: str) -> str:
    return day(dt.date.fromisoformat(iso), lang) if iso else "…"


def _filename(report: ProvincialReport, ext: str) -> str:
    return f"bao_cao_{report.period_from or 'dau'}_{report.period_to or dt.date.today().isoformat()}.{ext}"


@routes.get("/reports/export.csv")
@requires(Role.VIEWER)
async def report_csv(request: web.Request) -> web.Response:
    report = await report_for(request)
    lang = pick_language(request)
    rows: list[tuple[str, str, int | str]] = report_rows(report, request.app[VOCABULARY], lang)
    if report.districts:  # a district officer's figures say whose they are
        rows.insert(0, ("districts", in_language(DISTRICTS, lang), coverage(report, lang)))
    body = csv_text(in_language(CSV_HEADER, lang), rows)
    await audit(request, "export_report", "report", "", {"format": "csv", "from": report.period_from, "to": report.period_to})
    # A BOM so that Excel opens the Vietnamese labels as UTF-8.
    return web.Response(body=body.encode("utf-8"), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{_filename(report, "csv")}"'})


@routes.get("/reports/export.xlsx")
@requires(Role.VIEWER)
async def report_xlsx(request: web.Request) -> web.Response:
    report = await report_for(request)
    lang = pick_language(request)
    period_from, period_to = in_language(PERIOD, lang)
    # The heading row is read, not sorted: its days in the reader's language, and whose figures they are.
    heading = [period_from, _day(report.period_from, lang), period_to, _day(report.period_to, lang),
               in_language(DISTRICTS, lang), coverage(report, lang)]
    body = xlsx_bytes(in_language(SHEET_TITLE, lang), [heading, in_language(CSV_HEADER, lang),
                                                        *report_rows(report, request.app[VOCABULARY], lang)],
                      widths={"B": 48})
    await audit(request, "export_report", "report", "",
          {"format": "xlsx", "from": report.period_from, "to": report.period_to})
    return web.Response(body=body, content_type=XLSX,
                        headers={"Content-Disposition": f'attachment; filename="{_filename(report, "xlsx")}"'})
