"""Exports never hand a spreadsheet a formula: every CSV/XLSX cell goes through robocall.tabular.safe_cell."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from sqlmodel import Session as DbSession
from webhelp import login, run_client

from robocall.models import Contact
from robocall.tabular import csv_text, safe_cell, xlsx_bytes

pytestmark = pytest.mark.db


@pytest.mark.parametrize("text", ["=HYPERLINK(\"http://evil.example\",\"x\")", "+849******03", "-2+3", "@SUM(A1)",
                                  "\t=1", "\r=1"])
def test_formula_starts_are_neutralised(text: str) -> None:
    assert safe_cell(text) == "'" + text
    assert safe_cell("Nguyễn Văn An") == "Nguyễn Văn An" and safe_cell(-5) == -5 and safe_cell(None) is None


def test_csv_and_xlsx_writers_use_it() -> None:
    rows = list(csv.reader(io.StringIO(csv_text(["a"], [["=1+1"]]).lstrip("\ufeff"))))
    assert rows == [["a"], ["'=1+1"]]
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_bytes("t", [["=1+1", 3]]))).active
    assert sheet["A1"].value == "'=1+1" and sheet["A1"].data_type == "s" and sheet["B1"].value == 3


def test_line_list_export_neutralises_names_and_masked_phones(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    engine, _ = seeded
    with DbSession(engine) as db:
        db.add(Contact(phone="+84913000123", name='=HYPERLINK("http://evil.example","Bấm")', district="Thành phố Huế",
                       monitoring_end=None))
        db.commit()

    async def scenario(client):  # type: ignore[no-untyped-def]
        await login(client, "viewer")
        return await (await client.get("/lists/closed/export.csv?as_of=2021-08-13")).text()
    body = run_client(make_app(), scenario)
    cells = [c for row in csv.reader(io.StringIO(body.lstrip("\ufeff"))) for c in row]
    assert not any(c.startswith(("=", "+", "-", "@")) for c in cells)
    assert "'+849******23" in cells or "'+849******04" in cells
