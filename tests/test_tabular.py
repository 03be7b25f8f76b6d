"""The one reader of lists (robocall.tabular): CSV or XLSX, encodings, delimiters, headers."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from robocall.tabular import TableError, Unreadable, header_key, match_columns, numbered, open_table
from sms.recipients import RecipientsError, csv_fields, csv_recipients

ALIASES = {"phone": frozenset({"sodienthoai", "phone"}), "name": frozenset({"hovaten", "name"})}


def test_header_keys_ignore_case_accents_punctuation_and_brackets() -> None:
    assert header_key("Số ĐT (di động)") == "sodt"
    assert header_key("Họ và tên [bắt buộc]") == header_key("HO VA TEN") == "hovaten"


def test_match_columns_named_first_then_aliases() -> None:
    headers = ["Họ và tên", "Điện thoại nhà", "Số điện thoại"]
    assert match_columns(headers, ["phone", "name"], ALIASES, {}) == {"phone": [2], "name": [0]}
    assert match_columns(headers, ["phone", "name"], ALIASES, {"phone": "điện thoại nhà"}) == {"phone": [1], "name": [0]}
    with pytest.raises(TableError, match="no column 'Mobile' \\(for phone\\) in the header row"):
        match_columns(headers, ["phone"], ALIASES, {"phone": "Mobile"})
    with pytest.raises(RecipientsError, match="several columns could be the phone: 'phone' and 'Số điện thoại'"):
        match_columns(["phone", "Số điện thoại"], ["phone"], ALIASES, {}, error=RecipientsError)
    assert match_columns(["phone", "Số điện thoại"], ["phone"], ALIASES, {}, several={"phone"}) == {"phone": [0, 1]}


def test_a_legacy_encoding_is_detected_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes("Tên;SĐT\nHà;0912345678\n".encode("cp1258"))
    with open_table(path) as table:
        assert (table.file_type, table.encoding, table.delimiter) == ("csv", "cp1258", ";")
        assert list(table.records) == [["Tên", "SĐT"], ["Hà", "0912345678"]]
        assert "not UTF-8: read as cp1258" in table.warnings[0]


def test_strict_utf8_names_the_bad_line_after_the_rows_before_it(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes("Tên|SĐT\nA|0912345678\n".encode() + "Hà|0912345679\n".encode("latin-1"))
    with open_table(path, strict_utf8=True, error=RecipientsError) as table:
        assert table.delimiter == "|"
        assert next(table.records) == ["Tên", "SĐT"] and next(table.records) == ["A", "0912345678"]
        with pytest.raises(RecipientsError, match="line 3 is not UTF-8 text"):
            next(table.records)


def test_an_unparseable_record_is_kept_in_its_place(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text(f'a,b\nc,"{"x" * 200_000}"\ne,f\n', encoding="utf-8")  # a field past csv's size limit
    with open_table(path) as table:
        rows = list(numbered(table.records))
    assert [number for number, _ in rows] == [1, 2, 3]
    assert rows[0][1] == ["a", "b"] and rows[2][1] == ["e", "f"]
    assert isinstance(rows[1][1], Unreadable) and "field larger than field limit" in rows[1][1].message


def test_sms_lists_may_be_workbooks_or_semicolon_csv(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Họ và tên", "Số điện thoại"])
    sheet.append(["Lan", "0912345678"])
    sheet.append([None, None])
    workbook.save(tmp_path / "list.xlsx")
    assert csv_fields(tmp_path / "list.xlsx") == ["ho_va_ten", "so_dien_thoai"]
    [only] = csv_recipients(tmp_path / "list.xlsx")
    assert (only.row, only.raw, only.fields["ho_va_ten"]) == (2, "0912345678", "Lan")
    (tmp_path / "list.csv").write_text("Họ và tên;Số điện thoại\nMai;0912345679\n", encoding="utf-8")
    assert [r.raw for r in csv_recipients(tmp_path / "list.csv")] == ["0912345679"]
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(RecipientsError, match="empty.csv is empty"):
        list(csv_recipients(tmp_path / "empty.csv"))
