"""Whatever bytes a list holds, `contacts import` and `sms send --dry-run` answer with a message, never a
traceback (random bytes as CSV, and as something that looks like a workbook)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
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
