"""The provincial report over a date range, on screen and as CSV or XLSX."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from robocall.accounts import Role
from robocall.reports import (
    LABELS_VI,
    SMS_INDIVIDUAL_LABEL,
    SMS_SENT_LABEL,
    ProvincialReport,
)
from robocall.tabular import csv_text, xlsx_bytes
from robocall.web.audit import audit
from robocall.web.reporting import report_for
from robocall.web.security import requires
from robocall.web.templating import render

routes = web.RouteTableDef()
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def report_rows(report: ProvincialReport) -> list[tuple[str, str, int | str]]:
    """(key, Vietnamese label, value) for every figure, the levels included: one source for every format."""
    rows: list[tuple[str, str, int | str]] = [(key, label, getattr(report, key)) for key, label in LABELS_VI.items()]
    for level, count in report.escalations_by_level.items():
        rows.append((f"escalations_{level}", f"Cảnh báo mức {level}", count))
    rows.append(("sms_sent", SMS_SENT_LABEL, "" if report.sms_sent is None else report.sms_sent))
    rows.append(("sms_individual_sent", SMS_INDIVIDUAL_LABEL, report.sms_individual_sent))
    return rows


@routes.get("/reports")
@requires(Role.VIEWER)
async def report_page(request: web.Request) -> web.Response:
    report = await report_for(request)
    return render(request, "report.html", {"report": report, "rows": report_rows(report),
                                           "start": request.query.get("from", ""), "end": request.query.get("to", "")})


def _filename(report: ProvincialReport, ext: str) -> str:
    return f"bao_cao_{report.period_from or 'dau'}_{report.period_to or dt.date.today().isoformat()}.{ext}"


@routes.get("/reports/export.csv")
@requires(Role.VIEWER)
async def report_csv(request: web.Request) -> web.Response:
    report = await report_for(request)
    body = csv_text(["key", "label", "value"], report_rows(report))
    await audit(request, "export_report", "report", "", {"format": "csv", "from": report.period_from, "to": report.period_to})
    # A BOM so that Excel opens the Vietnamese labels as UTF-8.
    return web.Response(body=body.encode("utf-8"), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{_filename(report, "csv")}"'})


@routes.get("/reports/export.xlsx")
@requires(Role.VIEWER)
async def report_xlsx(request: web.Request) -> web.Response:
    report = await report_for(request)
    body = xlsx_bytes("Báo cáo", [["Từ ngày", report.period_from, "Đến ngày", report.period_to],
                                  ["Mã", "Chỉ tiêu", "Số lượng"], *report_rows(report)], widths={"B": 48})
    await audit(request, "export_report", "report", "",
          {"format": "xlsx", "from": report.period_from, "to": report.period_to})
    return web.Response(body=body, content_type=XLSX,
                        headers={"Content-Disposition": f'attachment; filename="{_filename(report, "xlsx")}"'})
