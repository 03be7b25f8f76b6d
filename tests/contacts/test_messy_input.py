"""Lists as they really arrive: a stray quote, a bad byte, a NUL. A row never swallows its neighbours unseen,
and nothing reaches the database that PostgreSQL refuses (these tests run on both databases)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy.engine import Engine

from robocall.call_policy import CallPolicy
from robocall.commands.contacts import contacts
from robocall.contacts import ImportFileError, import_contacts
from robocall.migrate import upgrade
from tests.contacts.test_import import run_import, stored

HEADER = "Họ và tên,Số điện thoại,Phân loại,Ngày tiếp xúc"


@pytest.fixture
def engine(db_engine: Engine) -> Engine:
    upgrade(db_engine)
    return db_engine


def write_rows(path: Path, count: int) -> list[bytes]:
    """A list of `count` good rows (generated: the 17,377-row case is a file of this shape)."""
    rows = [HEADER.encode()] + [f"Người {i},09{i:08d},F1,01/08/2021".encode() for i in range(1, count + 1)]
    path.write_bytes(b"\n".join(rows) + b"\n")
    return rows


@pytest.mark.parametrize("count", [100, 17_377])
def test_a_stray_quote_rejects_its_own_row_only(engine: Engine, tmp_path: Path, count: int) -> None:
    path = tmp_path / "list.csv"
    rows = write_rows(path, count)
    rows[10] = b'"Ng\xc6\xb0\xe1\xbb\x9di 10,0900000010,F1,01/08/2021'  # "Người 10 with a quote never closed
    path.write_bytes(b"\n".join(rows) + b"\n")
    report = run_import(engine, path)
    assert report.summary() == f"{count} rows read: {count - 1} new, 0 updated, 1 rejected"
    [bad] = report.rejected_rows
    assert bad.row == 11 and 'a quote " opens a cell that is never closed' in bad.reason
    assert "+84900000011" in stored(engine) and f"+849{count:08d}"[:13] in stored(engine)


def test_one_bad_byte_is_named_and_every_name_stays_right(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    rows = write_rows(path, 50)
    rows[20] = b"Ng\xe0 20,0900000020,F1,01/08/2021"  # one cp1258 byte in a UTF-8 list
    path.write_bytes(b"\n".join(rows) + b"\n")
    report = run_import(engine, path)
    assert report.encoding == "utf-8" and report.inserted == 50
    assert any("line 21: byte E0 is not UTF-8" in w for w in report.warnings)
    contacts = stored(engine)
    assert contacts["+84900000019"]["name"] == "Người 19" and contacts["+84900000020"]["name"] == "Ng\ufffd 20"


def test_a_nul_is_cleaned_on_either_database(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    rows = write_rows(path, 1500)  # more than a batch: nothing is half-written
    rows[1200] = "Trần\x00 Bình,0900001200,F1,01/08/2021".encode()
    path.write_bytes(b"\n".join(rows) + b"\n")
    report = run_import(engine, path)
    assert report.inserted == 1500 and report.rejected == 0
    assert stored(engine)["+84900001200"]["name"] == "Trần Bình"
    assert any("line 1201: control characters" in w for w in report.warnings)


DATA = Path(__file__).parent / "data"


def test_headers_staff_write_and_the_new_fields(engine: Engine) -> None:
    report = run_import(engine, DATA / "staff_headers.csv")
    assert report.columns == {
        "name": ["Họ và tên"], "birth_year": ["Năm sinh"], "phone": ["Số ĐT liên lạc"],
        "category": ["Loại đối tượng"], "exposure_date": ["Ngày tiếp xúc gần nhất"],
        "address": ["Số nhà", "Thôn/Xóm"], "commune": ["Phường/Xã"], "district": ["Huyện/TP"], "notes": ["Ghi chú"],
    }
    assert report.ignored_columns == ["STT"] and report.inserted == 2
    assert "hàng 3: năm sinh '19x5' không đọc được, để trống / row 3: birth year '19x5' unreadable, left empty" \
        in report.warnings
    an, bich = stored(engine)["+84905111201"], stored(engine)["+84935111202"]
    assert (an["birth_year"], an["address"], an["commune"], an["district"], an["notes"]) == (
        1985, "12 Lê Lợi, Tổ 3", "Phường Vĩnh Ninh", "Thành phố Huế", "Đi làm ca đêm")
    assert (bich["birth_year"], bich["address"], bich["category"]) == (None, "Thôn Lại Thế", "F2")


@pytest.mark.parametrize(("header", "shown"), [("Phân laoi", "'Phân laoi'  (đoán / guessed 88%)")])
def test_a_misspelled_header_is_used_only_when_sure_and_the_cli_says_how_sure(
        db_url: str, tmp_path: Path, header: str, shown: str) -> None:
    path = tmp_path / "list.csv"
    path.write_text(f"Họ tên,SĐT,{header},Ngày về\nAn,0905111201,F1,01/08/2021\n", encoding="utf-8")
    result = CliRunner(mix_stderr=False).invoke(contacts, ["import", str(path), "--today", "2021-08-11"])
    assert result.exit_code == 0, result.output
    assert f"category       <- {shown}" in result.stdout and "1 new" in result.stdout
    path.write_text("Họ tên,SĐT,Phan lo,Ngày về\nAn,0905111201,F1,01/08/2021\n", encoding="utf-8")
    result = CliRunner().invoke(contacts, ["import", str(path), "--today", "2021-08-11"])
    assert result.exit_code == 1  # a guess at the category would turn every F1 into "other": stop and ask
    assert "column 'Phan lo' may be the category (86% sure), too unsure to use: confirm with --column" in result.output
    result = CliRunner().invoke(contacts, ["import", str(path), "--today", "2021-08-11", "--column", "category=Phan lo"])
    assert result.exit_code == 0 and "1 updated" in result.output


def test_numbers_as_people_write_them_are_kept_with_their_kind(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text(
        "Họ tên,SĐT,Phân loại,Ngày về\n"
        "An,0912345678 (Zalo),F1,01/08/2021\n"
        "Bình,0912.345.679 / 0987 654 321,F1,01/08/2021\n"
        "Chi,\u20190912345670,F1,01/08/2021\n"
        "Dũng,0234 3822 123,F1,01/08/2021\n"
        "Emma,+1 650 253 0000,returnee,01/08/2021\n"
        "Giang,1800 1234,F1,01/08/2021\n", encoding="utf-8")
    report = run_import(engine, path)
    assert report.inserted == 5
    assert [(r.row, r.reason) for r in report.rejected_rows] == [
        (7, "số điện thoại '1800 1234' không hợp lệ: số miễn cước, cần số di động hoặc cố định / invalid phone '1800 1234': toll-free number, a mobile or landline number is needed")]
    got = {phone: (row["alt_phone"], row["phone_kind"]) for phone, row in stored(engine).items()}
    assert got == {
        "+84912345678": ("", "mobile"), "+84912345679": ("+84987654321", "mobile"), "+84912345670": ("", "mobile"),
        "+842343822123": ("", "landline"), "+16502530000": ("", "foreign"),
    }


def test_the_date_order_comes_from_all_the_rows(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text("SĐT,Ngày tiếp xúc\n0905111201,08/03/2021\n0905111202,08/13/2021\n", encoding="utf-8")
    report = import_contacts(engine, path, None, "list", CallPolicy(), dt.date(2021, 8, 20))
    assert report.rejected == 0 and any(w.endswith("dates read as month/day/year") for w in report.warnings)
    contacts = stored(engine)
    assert contacts["+84905111201"]["exposure_date"] == dt.date(2021, 8, 3)  # not 8 March
    assert contacts["+84905111202"]["exposure_date"] == dt.date(2021, 8, 13)


def test_dates_that_could_be_read_both_ways_are_refused_without_date_order(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text("SĐT,Ngày tiếp xúc\n0905111201,08/07/2021\n0905111202,07/08/2021\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(contacts, ["import", str(path), "--today", "2021-08-11"])
    assert result.exit_code == 1
    assert "the dates could be day/month or month/day (2 rows like row 2" in result.output
    result = runner.invoke(contacts, ["import", str(path), "--today", "2021-08-11", "--date-order", "mdy"])
    assert result.exit_code == 0 and "2 new" in result.output


def test_mixed_date_orders_are_refused_naming_a_row_of_each(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text("SĐT,Ngày tiếp xúc\n0905111201,13/07/2021\n0905111202,07/14/2021\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match="mixed dates: row 2 is day/month, row 3 is month/day"):
        run_import(engine, path)


def test_workbooks_as_staff_make_them(engine: Engine, tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    notes = workbook.active
    notes.title = "Hướng dẫn"
    notes.append(["Danh sách F1 gửi trạm y tế, xem trang 2"])
    sheet = workbook.create_sheet("F1")
    # A two-row header: "Họ và tên", "Phân loại" and "Ngày tiếp xúc" merged down over both rows,
    # "Liên hệ" merged across the phone and address columns above them.
    sheet.append(["Họ và tên", "Liên hệ", None, "Phân loại", "Ngày tiếp xúc"])
    sheet.append([None, "Số điện thoại", "Địa chỉ", None, None])
    sheet.merge_cells("A1:A2")
    sheet.merge_cells("B1:C1")
    sheet.merge_cells("D1:D2")
    sheet.merge_cells("E1:E2")
    sheet.append(["An", "0905111201", "12 Lê Lợi", "F1", "01/08/2021"])
    sheet.append(["Bình", "0905111202", "3 Hùng Vương", None, "02/08/2021"])  # category merged from the row above
    sheet.append(["Chi", "=\"0905111203\"", "", "F2", "03/08/2021"])  # a formula never calculated
    sheet.merge_cells("D3:D4")
    path = tmp_path / "list.xlsx"
    workbook.save(path)
    report = run_import(engine, path)
    assert report.sheet == "F1" and report.header_row == 2
    assert any("read sheet 'F1': it has the columns, the first sheet 'Hướng dẫn' has not" in w for w in report.warnings)
    assert any("1 cells are formulas with no saved value (B5...)" in w for w in report.warnings)
    assert report.columns["name"] == ["Họ và tên"] and report.columns["category"] == ["Phân loại"]
    assert report.columns["exposure_date"] == ["Ngày tiếp xúc"]
    contacts = stored(engine)
    assert (contacts["+84905111202"]["category"], contacts["+84905111202"]["name"]) == ("F1", "Bình")
    assert [(r.row, r.reason) for r in report.rejected_rows] == [(5, "thiếu số điện thoại / missing phone")]


def test_duplicates_past_the_rows_kept_are_still_refused() -> None:
    from robocall.contacts.seen import SeenNumbers

    seen = SeenNumbers(rows_kept=2)
    for row, phone in enumerate(["+84905111201", "+84905111202", "+84905111203"], start=2):
        assert seen.duplicate(phone) is None
        seen.add(phone, row)
    assert seen.duplicate("+84905111202") == "trùng với hàng 3 / duplicate of row 3"
    assert seen.duplicate("+84905111203") == "trùng với một hàng trước / duplicate of an earlier row"
    assert seen.duplicate("+16502530000") is None and len(seen) == 3
