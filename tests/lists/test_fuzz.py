"""Whatever bytes a list holds, `contacts import` and `sms send --dry-run` answer with a message, never a
traceback (random bytes as CSV, and as something that looks like a workbook)."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from robocall.cli import cli

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Bytes that make CSV trouble, mixed with what lists hold.
_PIECES = st.sampled_from([b'"', b",", b";", b"\t", b"\n", b"\r\n", b"\x00", b"\xe0", b"\xff\xfe", b"\xef\xbb\xbf",
                           "Số điện thoại".encode(), b"SDT", b"0912345678", b"F1", b"01/08/2021", b"13/08/2021",
                           "Phân loại".encode(), "Ngày tiếp xúc".encode(), b"(Zalo)", b"/"])
CSV_BYTES = st.one_of(st.binary(max_size=400), st.lists(_PIECES, max_size=60).map(b"".join))


def _xlsx_like(parts: list[tuple[str, bytes]]) -> bytes:
    """A zip holding workbook-ish member names with random content."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in parts:
            archive.writestr(name, data)
    return buffer.getvalue()


XLSX_BYTES = st.one_of(
    st.binary(max_size=300).map(lambda b: b"PK\x03\x04" + b),
    st.lists(st.tuples(st.sampled_from(["[Content_Types].xml", "xl/workbook.xml", "xl/worksheets/sheet1.xml",
                                        "xl/_rels/workbook.xml.rels", "_rels/.rels", "xl/sharedStrings.xml"]),
                       st.binary(max_size=200)), max_size=6).map(_xlsx_like),
)


def _no_traceback(args: list[str]) -> None:
    result = CliRunner().invoke(cli, args)
    assert "Traceback" not in result.output
    assert result.exit_code in (0, 1), (result.exit_code, result.output, result.exception)
    if result.exit_code == 1:
        assert isinstance(result.exception, SystemExit), repr(result.exception)  # a ClickException's message
        error = result.output.partition("Error: ")[2]
        assert " / " in error, result.output  # Vietnamese first, then English


@pytest.fixture
def lists_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from robocall.config import reset_settings

    monkeypatch.setenv("SMS_GATEWAYS", json.dumps({"sim": {"kind": "sim", "rate": 50000}}))
    monkeypatch.setenv("SMS_ROUTES", "default=sim")
    reset_settings()


@FUZZ
@given(data=CSV_BYTES)
def test_random_csv_bytes(lists_env: None, tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(data)
    _no_traceback(["contacts", "import", str(path), "--today", "2021-08-11"])
    _no_traceback(["sms", "send", "--to", str(path), "--text", "x", "--dry-run"])


@FUZZ
@given(data=XLSX_BYTES)
def test_random_workbook_like_bytes(lists_env: None, tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "list.xlsx"
    path.write_bytes(data)
    _no_traceback(["contacts", "import", str(path), "--today", "2021-08-11"])
    _no_traceback(["sms", "send", "--to", str(path), "--text", "x", "--dry-run"])


_CELL = st.one_of(
    st.sampled_from(["0912345678", "+84 912 345 679", "84912345680", "091234567", "abc", "", "0912345678 / 0987654321",
                     "F1", "F2", "f0", "returnee", "01/08/2021", "2021-08-01", "31/02/2021", "13/13/2021", "=1+1",
                     "\x00", "Nguyễn Văn An", "9" * 40, "0912345678\x00"]),
    st.text(max_size=12),
)
_ROWS = st.lists(st.tuples(_CELL, _CELL, _CELL, _CELL), min_size=1, max_size=12)
_ROW_LINE = re.compile(r"hàng (\d+) / row \1: (.+)")


@FUZZ
@given(rows=_ROWS)
@example(rows=[("0912345678\x00", "An", "F1", "01/08/2021")])
@example(rows=[("abc", "An", "F9", "31/02/2021"), ("0912345678", "=1+1", "F1", "2021-08-01")])
def test_every_refused_row_is_named_by_its_row(lists_env: None, tmp_path: Path, rows: list[tuple[str, ...]]) -> None:
    """A list with the right headers and any cells: each rejected row is reported as `hàng N / row N: why`,
    N its line in the file, the reason Vietnamese first."""
    path = tmp_path / "list.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["Số điện thoại", "Họ và tên", "Phân loại", "Ngày tiếp xúc"])
        writer.writerows(rows)
    result = CliRunner().invoke(cli, ["contacts", "import", str(path), "--today", "2021-08-11"])
    assert result.exit_code in (0, 1) and "Traceback" not in result.output, result.output
    lines_in_file = len(path.read_text(encoding="utf-8").splitlines())
    for line in result.output.splitlines():
        if line.startswith("hàng "):
            named = _ROW_LINE.match(line)
            assert named, line
            assert 2 <= int(named.group(1)) <= lines_in_file, (line, lines_in_file)
            assert " / " in named.group(2), line
