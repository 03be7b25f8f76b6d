"""Importing contact lists: bad rows reported with row and reason, good rows imported once, re-import updates.

tests/contacts/data/messy_contacts.csv is a small list with every kind of trouble;
the XLSX tests build the same list as a workbook.
"""

from __future__ import annotations

import datetime as dt
import logging
import unicodedata
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine

from robocall.call_policy import CallPolicy
from robocall.commands.contacts import contacts
from robocall.config import reset_settings
from robocall.contacts import (
    ColumnMapping,
    ImportFileError,
    ImportReport,
    import_contacts,
)
from robocall.migrate import upgrade
from robocall.models import Contact

DATA = Path(__file__).parent / "data"
MESSY = DATA / "messy_contacts.csv"
ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample_contacts.csv"
TODAY = dt.date(2021, 8, 11)
POLICY = CallPolicy()
CONTACTS = Contact.__table__  # type: ignore[attr-defined]

# The rows of messy_contacts.csv that can't be imported, exactly as reported.
MESSY_REJECTED = [
    (12, "số điện thoại '0123' không hợp lệ: quá ngắn / invalid phone '0123': too short"),
    (15, "trùng với hàng 2 / duplicate of row 2"),
    (16, "thiếu số điện thoại / missing phone"),
    (17, "không nhận ra phân loại 'F3' / unknown category 'F3'"),
    (18, "ngày '32/08/2021' không hợp lệ: không có ngày này / bad date '32/08/2021': no such day"),
    (22, "số điện thoại '0891 111 222' không hợp lệ: không phải số Việt Nam hợp lệ / invalid phone '0891 111 222': not a valid Vietnamese number"),
    (26, "thiếu ngày tiếp xúc/ngày về / missing exposure/return date"),
    (27, "không nhận ra phân loại 'F0' / unknown category 'F0'; ngày '15/08/2021' không hợp lệ: ở tương lai / bad date '15/08/2021': in the future"),
]

# phone -> (name, category, district, commune, exposure date, language, carrier) of the good rows.
MESSY_IMPORTED = {
    "+84905111201": ("Nguyễn Văn An", "F1", "Thành phố Huế", "Phường Vỹ Dạ", "2021-08-01", "vi", "MobiFone"),
    "+84935111202": ("Trần Thị Bích", "F2", "Thị xã Hương Thủy", "Phường Phú Bài", "2021-08-02", "vi", "MobiFone"),
    "+84976111203": ("Lê Quang Cường", "F1", "Thị xã Hương Trà", "Phường Tứ Hạ", "2021-08-03", "vi", "Viettel"),
    "+84888111204": ("Phạm Thị Dung", "returnee", "Huyện Phú Vang", "Thị trấn Thuận An", "2021-08-04", "vi",
                     "Vinaphone"),
    "+84945111205": ("Hoàng Minh Đức", "F1", "Thành phố Huế", "Phường An Cựu", "2021-08-05", "vi", "Vinaphone"),
    "+84395111206": ("Võ Thị Hoa", "F2", "Huyện Phong Điền", "Xã Phong An", "2021-08-06", "vi", "Viettel"),
    "+84856111207": ("Đặng Văn Hùng", "returnee", "Huyện Phú Lộc", "Thị trấn Lăng Cô", "2021-08-07", "vi",
                     "Vinaphone"),
    "+84912111208": ("Bùi Thị Lan", "F1", "Thành phố Huế", "Phường Kim Long", "2021-08-08", "vi", "Vinaphone"),
    "+84363111209": ("Đỗ Văn Long", "F1", "Huyện Quảng Điền", "Thị trấn Sịa", "2021-08-09", "vi", "Viettel"),
    "+84795111210": ("Hồ Thị Mai", "F2", "Thành phố Huế", "Phường Phú Hội", "2021-08-10", "vi", "MobiFone"),
    "+84989111219": ("Nguyễn Thị Thủy", "F1", "Thành phố Huế", "Phường Vĩnh Ninh", "2021-08-06", "vi", "Viettel"),
    "+84987111220": ("John Miller", "returnee", "Thành phố Huế", "Phường Phú Nhuận", "2021-08-05", "en", "Viettel"),
    "+84868111221": ("Tôn Nữ Thị Hạnh", "returnee", "Thành phố Huế", "Phường Tây Lộc", "2021-08-07", "vi",
                     "Viettel"),
    "+84362111223": ("Nguyễn Hữu Vinh", "F2", "Huyện Quảng Điền", "Xã Quảng Thành", "2021-08-06", "vi", "Viettel"),
    "+84916111228": ("Nguyễn Văn Út", "F2", "Huyện Phong Điền", "Xã Điền Hải", "2021-08-10", "vi", "Vinaphone"),
    # A landline is called (phone_kind "landline": no SMS); two numbers in a cell: the second is alt_phone.
    "+842343822123": ("Dương Thị Oanh", "F1", "Thành phố Huế", "Phường Thuận Thành", "2021-08-02", "vi", ""),
    "+84905111225": ("Trần Văn Quý", "F1", "Thành phố Huế", "Phường Xuân Phú", "2021-08-09", "vi", "MobiFone"),
}


@pytest.fixture
def engine(db_engine: Engine) -> Engine:
    upgrade(db_engine)
    return db_engine


def run_import(engine: Engine, path: Path, mapping: ColumnMapping | None = None, **kwargs: Any) -> ImportReport:
    kwargs.setdefault("source_list", "messy")
    return import_contacts(engine, path, mapping, policy=POLICY, today=TODAY, **kwargs)


def stored(engine: Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as connection:
        return {row.phone: dict(row._mapping) for row in connection.execute(select(CONTACTS))}


def contact_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(CONTACTS)).scalar_one()


def as_expected(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["name"], row["category"], row["district"], row["commune"], row["exposure_date"].isoformat(),
            row["language"], row["carrier"])


def assert_messy_imported(engine: Engine, report: ImportReport) -> None:
    assert [(r.row, r.reason) for r in report.rejected_rows] == MESSY_REJECTED
    assert (report.read, report.inserted, report.updated, report.rejected, report.blank) == (25, 17, 0, 8, 2)
    rows = stored(engine)
    assert {phone: as_expected(row) for phone, row in rows.items()} == MESSY_IMPORTED


# --- the messy CSV -------------------------------------------------------------


def test_every_bad_row_is_reported_and_every_good_row_imported_once(engine: Engine) -> None:
    report = run_import(engine, MESSY)
    assert_messy_imported(engine, report)
    assert (report.file_type, report.encoding, report.delimiter, report.header_row) == ("csv", "utf-8", ";", 1)
    assert report.ignored_columns == ["STT"]  # "Ghi chú" is read into notes
    assert report.warnings == []


def test_stored_values(engine: Engine) -> None:
    run_import(engine, MESSY, source_list="Danh sách F1 ngày 11/8")
    rows = stored(engine)
    for row in rows.values():
        for name in ("name", "district", "commune"):
            assert unicodedata.is_normalized("NFC", row[name])
        assert row["source_list"] == "Danh sách F1 ngày 11/8"
        assert row["opted_out"] is False
        assert row["created_at"] == row["updated_at"]
    # Monitoring periods: 14 days for F1 and returnees, 7 for F2.
    assert rows["+84905111201"]["monitoring_end"] == dt.date(2021, 8, 15)
    assert rows["+84935111202"]["monitoring_end"] == dt.date(2021, 8, 9)
    assert rows["+84888111204"]["monitoring_end"] == dt.date(2021, 8, 18)


def test_the_report_shows_staff_the_raw_cell_but_logs_get_masked_numbers(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="robocall.contacts")
    report = run_import(engine, MESSY)
    short = next(r for r in report.rejected_rows if r.row == 22)
    assert short.raw_phone == "0891 111 222"
    assert short.masked_phone == "089*****22"
    assert short.log_reason == "số điện thoại '089*****22' không hợp lệ: không phải số Việt Nam hợp lệ / invalid phone '089*****22': not a valid Vietnamese number"
    assert str(short) == ("hàng 22 / row 22: số điện thoại '0891 111 222' không hợp lệ: không phải số Việt Nam hợp lệ"
                          " / invalid phone '0891 111 222': not a valid Vietnamese number")
    logged = caplog.text
    assert "row 22 rejected" in logged
    for raw in ("0234 3822 123", "0891 111 222", "0905 111 225", "0935 111 225"):
        assert raw not in logged
    for phone in MESSY_IMPORTED:
        assert phone not in logged


def test_small_batches_give_the_same_result(engine: Engine) -> None:
    report = run_import(engine, MESSY, batch_size=2)
    assert_messy_imported(engine, report)


# --- importing again -----------------------------------------------------------


def test_importing_again_updates_and_never_duplicates(engine: Engine, tmp_path: Path) -> None:
    run_import(engine, MESSY)
    first = stored(engine)

    edited = tmp_path / "messy_edited.csv"
    text = MESSY.read_text(encoding="utf-8")
    assert text.count("Nguyễn Văn An") == 1
    text = text.replace("Nguyễn Văn An", "Nguyễn Văn Ân").replace(";F2;Thị xã Hương Thủy;", ";F1;Thị xã Hương Thủy;")
    edited.write_text(text, encoding="utf-8", newline="")
    report = run_import(engine, edited, source_list="messy v2")

    assert (report.read, report.inserted, report.updated, report.rejected) == (25, 0, 17, 8)
    assert contact_count(engine) == 17
    second = stored(engine)
    assert second["+84905111201"]["name"] == "Nguyễn Văn Ân"
    # F2 -> F1: the monitoring period follows the new category.
    assert second["+84935111202"]["category"] == "F1"
    assert second["+84935111202"]["monitoring_end"] == dt.date(2021, 8, 16)
    for phone, row in second.items():
        assert row["id"] == first[phone]["id"]
        assert row["created_at"] == first[phone]["created_at"]
        assert row["updated_at"] >= first[phone]["updated_at"]
        assert row["source_list"] == "messy v2"


def test_opted_out_survives_reimport(engine: Engine) -> None:
    run_import(engine, MESSY)
    opted_at = dt.datetime(2021, 8, 12, 9, 30, tzinfo=dt.UTC)
    with engine.begin() as connection:
        connection.execute(
            update(CONTACTS).where(CONTACTS.c.phone == "+84905111201").values(opted_out=True, opted_out_at=opted_at)
        )
    run_import(engine, MESSY)
    rows = stored(engine)
    assert rows["+84905111201"]["opted_out"] is True
    assert rows["+84905111201"]["opted_out_at"] == opted_at
    assert not any(row["opted_out"] for phone, row in rows.items() if phone != "+84905111201")


def test_a_list_without_a_column_leaves_that_field_alone(engine: Engine, tmp_path: Path) -> None:
    run_import(engine, MESSY)
    partial = tmp_path / "phones_only.csv"
    partial.write_text("SĐT,Họ tên\n0905 111 201,Nguyễn Văn An\n0977 111 301,Lê Thị Mới\n", encoding="utf-8")
    report = run_import(engine, partial)
    assert (report.inserted, report.updated, report.rejected) == (1, 1, 0)
    assert [w.split(" / ")[-1] for w in report.warnings] == [  # Vietnamese first, then English
        "no category column: new contacts get category 'other'",
        "no exposure/return date column: new contacts have no monitoring period and won't be called",
    ]
    rows = stored(engine)
    kept = rows["+84905111201"]
    assert as_expected(kept) == MESSY_IMPORTED["+84905111201"]
    assert kept["monitoring_end"] == dt.date(2021, 8, 15)
    new = rows["+84977111301"]
    assert (new["category"], new["exposure_date"], new["monitoring_end"], new["district"], new["language"]) == (
        "other", None, None, "", "vi"
    )


# --- XLSX ----------------------------------------------------------------------


def messy_workbook_rows() -> list[list[Any]]:
    """The messy list as Excel holds it: numbers as numbers, dates as dates, blank rows empty."""
    nfd = lambda text: unicodedata.normalize("NFD", text)  # noqa: E731
    d = lambda day: dt.datetime(2021, 8, day)  # noqa: E731
    return [
        ["STT", "Họ và tên", "SĐT", "Phân loại", "Quận/Huyện", "Xã/Phường", "Ngày tiếp xúc", "Ngôn ngữ", "Ghi chú"],
        [1, "Nguyễn Văn An", "0905 111 201", "F1", "Thành phố Huế", "Phường Vỹ Dạ", d(1), "vi", None],
        [2, "Trần Thị Bích", "0935.111.202", "F2", "Thị xã Hương Thủy", "Phường Phú Bài", "2021-08-02", "Tiếng Việt"],
        [3, "Lê Quang Cường", "0976-111-203", "f1", "Thị xã Hương Trà", "Phường Tứ Hạ", "3/8/2021"],
        [4, "Phạm Thị Dung", "+84 888 111 204", "Người về từ vùng dịch", "Huyện Phú Vang", "Thị trấn Thuận An", d(4)],
        [5, "Hoàng Minh Đức", 84945111205, "F1", "Thành phố Huế", "Phường An Cựu", d(5)],
        [6, "Võ Thị Hoa", "0084 395 111 206", "F2", "Huyện Phong Điền", "Xã Phong An", d(6)],
        [7, "Đặng Văn Hùng", "(+84) 856 111 207", "returnee", "Huyện Phú Lộc", "Thị trấn Lăng Cô", d(7)],
        [8, "Bùi Thị Lan", 912111208, "F1", "Thành phố Huế", "Phường Kim Long", d(8)],
        [9, "Đỗ Văn Long", "01663 111 209", "F1", "Huyện Quảng Điền", "Thị trấn Sịa", d(9)],
        [10, "Hồ Thị Mai", "+84 1215 111 210", "F2", "Thành phố Huế", "Phường Phú Hội", d(10)],
        [11, "Ngô Văn Nam", "0123", "F1", "Thành phố Huế", "Phường Đúc", d(1)],
        [],
        [12, "Dương Thị Oanh", "0234 3822 123", "F1", "Thành phố Huế", "Phường Thuận Thành", d(2)],
        [13, "Lý Văn Phúc", 905111201, "F2", "Thành phố Huế", "Phường Vỹ Dạ", d(3)],
        [14, "Trương Thị Quyên", None, "F1", "Huyện Phú Vang", "Xã Phú Thượng", d(4)],
        [15, "Phan Văn Sơn", "0907 111 217", "F3", "Thị xã Hương Thủy", "Phường Thủy Dương", d(5)],
        [16, "Huỳnh Thị Thảo", "0908 111 218", "F1", "Thị xã Hương Trà", "Xã Hương Toàn", "32/08/2021"],
        [17, nfd("Nguyễn Thị Thủy"), "0989 111 219", "F1", nfd("Thành phố Huế"), nfd("Phường Vĩnh Ninh"), d(6)],
        [18, "John Miller", "0987.111.220", "Returnee", "Thành phố Huế", "Phường Phú Nhuận", d(5), "English"],
        [19, "Tôn Nữ Thị Hạnh", "0868 111 221", "Về từ vùng dịch", "Thành phố Huế", "Phường Tây Lộc", d(7)],
        [20, "Lê Văn Tài", "0891 111 222", "F2", "Huyện Phú Lộc", "Xã Lộc Điền", d(8)],
        [21, "Nguyễn Hữu Vinh", 362111223.0, "F2", "Huyện Quảng Điền", "Xã Quảng Thành", 44414],
        [None, "  ", None, None],
        [22, "Trần Văn Quý", "0905 111 225 / 0935 111 225", "F1", "Thành phố Huế", "Phường Xuân Phú", d(9)],
        [23, "Phạm Thị Sen", "0912 111 226", "F1", "Huyện Phú Vang", "Xã Phú Đa", None],
        [24, "Cao Văn Tú", "0377 111 227", "F0", "Thị xã Hương Thủy", "Phường Thủy Châu", d(15)],
        [25, "  Nguyễn   Văn  Út ", "0916111228 ", "F2", "Huyện Phong Điền", "Xã Điền Hải", d(10)],
    ]


def write_workbook(path: Path, rows: list[list[Any]], sheet: str = "Danh sách", before: list[str] = ()) -> Path:
    workbook = openpyxl.Workbook()
    first = workbook.active
    for index, name in enumerate(before):
        worksheet = first if index == 0 else workbook.create_sheet()
        worksheet.title = name
        worksheet.append(["Hướng dẫn: điền mỗi người một dòng"])
    worksheet = workbook.create_sheet(sheet) if before else first
    worksheet.title = sheet
    for number, row in enumerate(rows, start=1):
        for column, value in enumerate(row, start=1):
            if value is not None:
                worksheet.cell(row=number, column=column, value=value)
    workbook.save(path)
    return path


def test_xlsx_gives_the_same_result_as_csv(engine: Engine, tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "messy_contacts.xlsx", messy_workbook_rows())
    report = run_import(engine, path)
    # A date cell is shown in the report as an ISO date.
    assert [(r.row, r.reason) for r in report.rejected_rows] == [
        (row, reason.replace("'15/08/2021'", "'2021-08-15'")) for row, reason in MESSY_REJECTED
    ]
    assert (report.file_type, report.sheet, report.read, report.inserted, report.blank) == (
        "xlsx", "Danh sách", 25, 17, 2
    )
    assert {phone: as_expected(row) for phone, row in stored(engine).items()} == MESSY_IMPORTED


def test_xlsx_sheet_by_name(engine: Engine, tmp_path: Path) -> None:
    rows = messy_workbook_rows()
    path = write_workbook(tmp_path / "list.xlsx", rows, sheet="Danh sách F1", before=["Hướng dẫn"])
    chosen = run_import(engine, path)  # the first sheet is the instructions: the sheet with the columns is read
    assert chosen.sheet == "Danh sách F1" and any("the first sheet 'Hướng dẫn' has not" in w for w in chosen.warnings)
    report = run_import(engine, path, sheet="danh sach f1")  # case and accents don't matter
    assert (report.sheet, report.updated, report.rejected) == ("Danh sách F1", 17, 8)
    with pytest.raises(ImportFileError, match="no sheet 'F2'.*'Hướng dẫn', 'Danh sách F1'"):
        run_import(engine, path, sheet="F2")


def test_xlsx_title_block_above_the_header(engine: Engine, tmp_path: Path) -> None:
    title = [["SỞ Y TẾ THỪA THIÊN HUẾ"], ["DANH SÁCH F1 CẦN THEO DÕI"], []]
    path = write_workbook(tmp_path / "list.xlsx", title + messy_workbook_rows()[:4])
    report = run_import(engine, path)
    assert report.header_row == 4
    assert [w.split(" / ")[-1] for w in report.warnings] == ["header found on row 4; the rows above it were skipped"]
    assert (report.read, report.inserted) == (3, 3)


def test_not_a_workbook(engine: Engine, tmp_path: Path) -> None:
    broken = tmp_path / "list.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ImportFileError, match="cannot read list.xlsx as an Excel workbook"):
        run_import(engine, broken)
    old = tmp_path / "list.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 100)
    with pytest.raises(ImportFileError, match=r"old Excel \.xls file"):
        run_import(engine, old)


# --- columns -------------------------------------------------------------------


def test_explicit_columns(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text(
        "Họ tên người tiếp xúc,Số liên lạc,SĐT người báo tin,Đối tượng,Ngày về địa phương\n"
        "Nguyễn Văn An,0905 111 201,0977 000 001,F1,01/08/2021\n",
        encoding="utf-8",
    )
    guessed = run_import(engine, path)  # "Số liên lạc" is not a known header, but close to "Số ĐT liên lạc"
    assert guessed.columns["phone"] == ["Số liên lạc"] and guessed.confidence["phone"] == 90
    mapping = ColumnMapping.from_options(
        ["phone=Số liên lạc", "name=ho ten nguoi tiep xuc", "exposure_date=Ngày về địa phương"]
    )
    report = run_import(engine, path, mapping)
    assert report.columns == {
        "name": ["Họ tên người tiếp xúc"], "phone": ["Số liên lạc"], "category": ["Đối tượng"],
        "exposure_date": ["Ngày về địa phương"],
    }
    assert report.ignored_columns == ["SĐT người báo tin"]
    assert as_expected(stored(engine)["+84905111201"])[:2] == ("Nguyễn Văn An", "F1")


def test_explicit_column_that_is_not_there(engine: Engine) -> None:
    mapping = ColumnMapping(phone="SĐT", district="Huyện/Thị xã")
    with pytest.raises(ImportFileError, match="no column 'Huyện/Thị xã' \\(for district\\)"):
        run_import(engine, MESSY, mapping)


def test_column_options() -> None:
    assert ColumnMapping.from_options(["phone=Điện thoại", "exposure-date = Ngày về"]) == ColumnMapping(
        phone="Điện thoại", exposure_date="Ngày về"
    )
    with pytest.raises(ValueError, match="unknown field 'sdt'"):
        ColumnMapping.from_options(["sdt=Số"])
    with pytest.raises(ValueError, match="expected FIELD=HEADER"):
        ColumnMapping.from_options(["phone"])


def test_two_phone_columns_must_be_chosen_between(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text("Họ tên,SĐT,Điện thoại\nA,0905111201,0905111202\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match="several columns could be the phone: 'SĐT' and 'Điện thoại'"):
        run_import(engine, path, ColumnMapping(name="Họ tên"))


def test_exposure_and_return_date_columns(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text(
        "Họ tên,SĐT,Phân loại,Ngày tiếp xúc,Ngày về\n"
        "A,0905111201,F1,02/08/2021,\n"
        "B,0905111202,Người về từ vùng dịch,,05/08/2021\n",
        encoding="utf-8",
    )
    report = run_import(engine, path)
    assert report.rejected == 0
    assert any(w.endswith("exposure/return date read from 'Ngày tiếp xúc', then 'Ngày về' (the first one filled in)")
               for w in report.warnings)
    rows = stored(engine)
    assert rows["+84905111201"]["exposure_date"] == dt.date(2021, 8, 2)
    assert rows["+84905111202"]["exposure_date"] == dt.date(2021, 8, 5)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("01/08/2021", dt.date(2021, 8, 1)),
        ("1/8/2021", dt.date(2021, 8, 1)),
        ("01-08-2021", dt.date(2021, 8, 1)),
        ("01.08.2021", dt.date(2021, 8, 1)),
        ("01/08/21", dt.date(2021, 8, 1)),
        ("2021-08-01", dt.date(2021, 8, 1)),
        ("2021-08-01 00:00:00", dt.date(2021, 8, 1)),
        ("01/08/2021 08:30", dt.date(2021, 8, 1)),
        ("44409", dt.date(2021, 8, 1)),  # an Excel date exported as its serial number
        ("08/13/2021", "ngày '08/13/2021' không hợp lệ: ở tương lai / bad date '08/13/2021': in the future"),  # month/day: the file says so
        ("1/1/1900", "ngày '1/1/1900' không hợp lệ: trước 01/01/2019, không hợp lý / bad date '1/1/1900': before 01/01/2019, not plausible"),
        ("31/02/2021", "ngày '31/02/2021' không hợp lệ: không có ngày này / bad date '31/02/2021': no such day"),
        ("hôm qua", "ngày 'hôm qua' không hợp lệ: không phải ngày (cần dạng dd/mm/yyyy) / bad date 'hôm qua': not a date (expected dd/mm/yyyy)"),
        ("12/08/2021", "ngày '12/08/2021' không hợp lệ: ở tương lai / bad date '12/08/2021': in the future"),
    ],
)
def test_dates(engine: Engine, tmp_path: Path, cell: str, expected: dt.date | str) -> None:
    path = tmp_path / "list.csv"
    path.write_text(f"SĐT,Ngày tiếp xúc\n0905111201,{cell}\n", encoding="utf-8")
    report = run_import(engine, path)
    if isinstance(expected, str):
        assert [(r.row, r.reason) for r in report.rejected_rows] == [(2, expected)]
    else:
        assert report.rejected == 0
        assert stored(engine)["+84905111201"]["exposure_date"] == expected


@pytest.mark.parametrize(
    ("header", "cell", "expected"),
    [
        ("Phân loại", "F 1", ("category", "F1")),
        ("Category", "f-2", ("category", "F2")),
        ("PHÂN LOẠI", "NGƯỜI VỀ TỪ VÙNG DỊCH", ("category", "returnee")),
        ("phan loai", "nguoi ve tu vung dich", ("category", "returnee")),
        ("Đối tượng", "Khác", ("category", "other")),
        ("Ngôn ngữ", "Tiếng Anh", ("language", "en")),
        ("language", "EN", ("language", "en")),
        ("Ngôn ngữ", "", ("language", "vi")),
        ("Ngôn ngữ", "Tiếng Pháp", "không nhận ra ngôn ngữ 'Tiếng Pháp' / unknown language 'Tiếng Pháp'"),
        ("Phân loại", "", "thiếu phân loại / missing category"),
    ],
)
def test_category_and_language_values(
    engine: Engine, tmp_path: Path, header: str, cell: str, expected: tuple[str, str] | str
) -> None:
    path = tmp_path / "list.csv"
    path.write_text(f"Số điện thoại,{header}\n0905111201,{cell}\n", encoding="utf-8")
    report = run_import(engine, path)
    if isinstance(expected, str):
        assert [r.reason for r in report.rejected_rows] == [expected]
    else:
        field, value = expected
        assert stored(engine)["+84905111201"][field] == value


# --- encodings and delimiters --------------------------------------------------


TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"


def cp1258(text: str) -> bytes:
    """``text`` as Windows-1258 writes it: letters like ê, ơ precomposed, tones as combining marks."""
    out = []
    for char in text:
        parts = unicodedata.normalize("NFD", char)
        base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in TONE_MARKS))
        out.append(base + "".join(c for c in parts if c in TONE_MARKS))
    return "".join(out).encode("cp1258")


def test_windows_vietnamese_file_is_read_with_a_warning(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(cp1258("Họ tên,SĐT,Phân loại\nTrần Thị Bích,0935111202,F2\n"))
    report = run_import(engine, path)
    assert report.encoding == "cp1258"
    assert "list.csv is not UTF-8: read as cp1258 (Windows Vietnamese)" in report.warnings[0]
    # cp1258 spells tones with combining marks; names are stored composed (NFC).
    assert stored(engine)["+84935111202"]["name"] == "Trần Thị Bích"


def test_latin1_fallback(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(b"name,phone\nJos\x8a M\xfcller,0935111202\n")  # 0x8A is not cp1258
    report = run_import(engine, path)
    assert report.encoding == "latin-1"
    assert "read as latin-1" in report.warnings[0]
    assert report.inserted == 1


def test_utf16_tab_separated_from_excel_unicode_text(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text("Họ tên\tSĐT\tPhân loại\r\nTrần Thị Bích\t0935111202\tF2\r\n", encoding="utf-16")
    report = run_import(engine, path)
    assert (report.encoding, report.delimiter, report.inserted) == ("utf-16", "\t", 1)
    assert stored(engine)["+84935111202"]["name"] == "Trần Thị Bích"


def test_comma_inside_quotes_and_multiline_cells_keep_row_numbers(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text(
        'Họ tên,SĐT,Ghi chú\n"Nguyễn Văn An, con",0905111201,"dòng 1\ndòng 2"\nB,0123,\n', encoding="utf-8"
    )
    report = run_import(engine, path)
    # Excel shows the quoted two-line cell as one row: the bad number is on row 3.
    assert [(r.row, r.reason) for r in report.rejected_rows] == [(3, "số điện thoại '0123' không hợp lệ: quá ngắn / invalid phone '0123': too short")]
    assert stored(engine)["+84905111201"]["name"] == "Nguyễn Văn An, con"


def test_unreadable_files(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="cannot read"):
        run_import(engine, tmp_path / "missing.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ImportFileError, match="no phone column"):
        run_import(engine, empty)
    assert contact_count(engine) == 0


# --- the sample list -----------------------------------------------------------


def test_sample_file_is_what_the_generator_writes() -> None:
    from simulator.contacts import render

    assert SAMPLE.read_text(encoding="utf-8-sig") == render()
    assert SAMPLE.read_bytes().startswith(b"\xef\xbb\xbf")


def test_sample_imports_cleanly(engine: Engine) -> None:
    report = run_import(engine, SAMPLE, source_list="sample")
    assert (report.read, report.inserted, report.rejected) == (300, 300, 0)
    rows = stored(engine).values()
    categories = [row["category"] for row in rows]
    assert 0.40 < categories.count("F1") / 300 < 0.50
    assert 0.20 < categories.count("F2") / 300 < 0.30
    assert 0.25 < categories.count("returnee") / 300 < 0.35
    assert {row["exposure_date"] for row in rows} == {dt.date(2021, 8, d) for d in range(1, 11)}
    assert {row["carrier"] for row in rows} >= {"Viettel", "Vinaphone", "MobiFone"}
    assert len({row["district"] for row in rows}) >= 5


# --- the command ---------------------------------------------------------------


def test_cli_import(db_url: str, tmp_path: Path) -> None:
    reset_settings()
    report_csv = tmp_path / "rejected.csv"
    runner = CliRunner()
    result = runner.invoke(
        contacts, ["import", str(MESSY), "--source", "F1 Huế", "--report-csv", str(report_csv), "--today", "2021-08-11"]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert f"{MESSY} (list 'F1 Huế'): 25 rows read: 17 new, 0 updated, 8 rejected (2 blank rows skipped)" in lines
    for row, reason in MESSY_REJECTED:
        assert f"hàng {row} / row {row}: {reason}" in lines
    assert "hàng 12 / row 12: số điện thoại '0123' không hợp lệ: quá ngắn / invalid phone '0123': too short" in lines
    with report_csv.open(encoding="utf-8-sig") as f:
        written = f.read().splitlines()
    assert written[0] == "row,reason,phone"
    assert written[2] == "15,trùng với hàng 2 / duplicate of row 2,0905111201"
    assert len(written) == 9

    # Again: everything updated, nothing duplicated.
    again = runner.invoke(contacts, ["import", str(MESSY), "--today", "2021-08-11"])
    assert again.exit_code == 0, again.output
    assert "(list 'messy_contacts'): 25 rows read: 0 new, 17 updated, 8 rejected" in again.stdout


def test_cli_column_option_and_errors(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text("Tên,Số máy,Điện thoại nhà\nA,0905111201,0234 3822 123\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(contacts, ["import", str(path)])
    assert result.exit_code != 0
    assert "column 'Điện thoại nhà' may be the phone (86% sure), too unsure to use" in result.output
    (tmp_path / "none.csv").write_text("Tên,Số máy\nA,0905111201\n", encoding="utf-8")
    assert "no phone column" in runner.invoke(contacts, ["import", str(tmp_path / "none.csv")]).output

    # stderr apart from stdout (click 8.1's runner mixes them unless asked not to)
    result = CliRunner(mix_stderr=False).invoke(contacts, ["import", str(path), "--column", "phone=Số máy"])
    assert result.exit_code == 0, result.output
    assert "1 new" in result.stdout
    assert "  phone          <- 'Số máy'\n" in result.stdout and "ignored: 'Điện thoại nhà'" in result.stdout
    assert "no category column" in result.stderr

    result = runner.invoke(contacts, ["import", str(path), "--column", "sdt=Điện thoại"])
    assert result.exit_code == 2
    assert "unknown field 'sdt'" in result.output

    result = runner.invoke(contacts, ["import", str(tmp_path / "missing.csv")])
    assert result.exit_code == 1
    assert "cannot read" in result.output


def test_cli_future_dates_use_the_local_today(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text("SĐT,Ngày về\n0905111201,01/01/2099\n", encoding="utf-8")
    result = CliRunner().invoke(contacts, ["import", str(path)])
    assert result.exit_code == 0, result.output
    assert "hàng 2 / row 2: ngày '01/01/2099' không hợp lệ: ở tương lai / bad date '01/01/2099': in the future" in result.stdout


def test_cli_xlsx(db_url: str, tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "list.xlsx", messy_workbook_rows(), sheet="F1", before=["Hướng dẫn"])
    result = CliRunner().invoke(contacts, ["import", str(path), "--sheet", "F1", "--today", "2021-08-11"])
    assert result.exit_code == 0, result.output
    assert f"{path}, sheet 'F1' (list 'list'): 25 rows read: 17 new" in result.stdout


def test_lf_line_ends_give_the_same_rows(engine: Engine, tmp_path: Path) -> None:
    copy = tmp_path / "copy.csv"
    copy.write_text(MESSY.read_text(encoding="utf-8").replace("\r\n", "\n"), encoding="utf-8")
    report = run_import(engine, copy)
    assert [(r.row, r.reason) for r in report.rejected_rows] == MESSY_REJECTED
