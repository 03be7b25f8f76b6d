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
    with pytest.raises(TableError, match="không có cột 'Mobile' \\(cho phone\\) trong dòng tiêu đề.* / "
                                         "no column 'Mobile' \\(for phone\\) in the header row"):
        match_columns(headers, ["phone"], ALIASES, {"phone": "Mobile"})
    with pytest.raises(RecipientsError, match="nhiều cột có thể là phone: 'phone' và 'Số điện thoại'.* / "
                                              "several columns could be the phone: 'phone' and 'Số điện thoại'"):
        match_columns(["phone", "Số điện thoại"], ["phone"], ALIASES, {}, error=RecipientsError)
    assert match_columns(["phone", "Số điện thoại"], ["phone"], ALIASES, {}, several={"phone"}) == {"phone": [0, 1]}


def test_a_legacy_encoding_is_detected_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes("Tên;SĐT\nHà;0912345678\n".encode("cp1258"))
    with open_table(path) as table:
        assert (table.file_type, table.encoding, table.delimiter) == ("csv", "cp1258", ";")
        assert list(table.records) == [["Tên", "SĐT"], ["Hà", "0912345678"]]
        assert "not UTF-8: read as cp1258" in table.warnings[0]


def test_one_bad_byte_in_a_utf8_file_is_named_by_its_line_and_spoils_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes("Tên|SĐT\nNguyễn An|0912345678\n".encode() + b"H\xe0|0912345679\n"
                     + "Trần Bình|0912345670\n".encode())
    with open_table(path, error=RecipientsError) as table:
        assert table.encoding == "utf-8" and table.delimiter == "|"
        rows = list(table.records)
    assert rows == [["Tên", "SĐT"], ["Nguyễn An", "0912345678"], ["H\ufffd", "0912345679"],
                    ["Trần Bình", "0912345670"]]
    assert any("dòng 3: byte E0 không phải UTF-8" in w and "line 3: byte E0 is not UTF-8" in w
               for w in table.warnings)


def test_control_characters_are_removed_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes("Tên,SĐT\nAn\x00 Bình,0912345678\n".encode())
    with open_table(path) as table:
        rows = list(table.records)
    assert rows[1] == ["An Bình", "0912345678"]
    assert any("line 2: control characters" in w for w in table.warnings)


def test_a_stray_quote_swallows_no_neighbour(tmp_path: Path) -> None:
    lines = ["Họ và tên,Số điện thoại,Phân loại"]
    lines += [f"Người {i},09123456{i:02d},F1" for i in range(1, 100)]
    lines[10] = '"Người 10,0912345610,F1'  # a quote opened at the start of a cell, never closed
    path = tmp_path / "list.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with open_table(path) as table:
        rows = list(numbered(table.records))
    assert len(rows) == 100
    assert isinstance(rows[10][1], Unreadable) and rows[10][1].line == 11
    assert "a quote \" opens a cell that is never closed" in rows[10][1].message
    assert rows[11] == (12, ["Người 11", "0912345611", "F1"]) and rows[-1] == (100, ["Người 99", "0912345699", "F1"])


def test_a_cell_typed_on_two_lines_is_still_one_record(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text('Tên,Địa chỉ,SĐT,Loại\nAn,"12 Lê Lợi\nPhường 1",0912345678,F1\nBình,3 Hùng Vương,0912345679,F2\n',
                    encoding="utf-8")
    with open_table(path) as table:
        rows = list(table.records)
    assert rows[1] == ["An", "12 Lê Lợi\nPhường 1", "0912345678", "F1"] and rows[2][0] == "Bình"


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


def test_sms_lists_skip_a_title_block_and_an_instructions_sheet(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    workbook.active.title = "Hướng dẫn"
    workbook.active.append(["Gửi tin cho các hộ trong khu phong tỏa"])
    sheet = workbook.create_sheet("Danh sách")
    sheet.append(["DANH SÁCH HỘ DÂN"])
    sheet.append([])
    sheet.append(["Họ và tên", "SĐT"])
    sheet.append(["Lan", "0912345678"])
    workbook.save(tmp_path / "list.xlsx")
    [only] = csv_recipients(tmp_path / "list.xlsx")
    assert (only.row, only.raw, only.fields["ho_va_ten"]) == (4, "0912345678", "Lan")
    assert csv_fields(tmp_path / "list.xlsx") == ["ho_va_ten", "sdt"]
    (tmp_path / "list.csv").write_text("Danh sách,,\n,,\nTên,Số máy,\nAn,0912345679,\n", encoding="utf-8")
    assert [(r.row, r.raw) for r in csv_recipients(tmp_path / "list.csv", "Số máy")] == [(4, "0912345679")]
