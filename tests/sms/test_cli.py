"""`robocall sms ...` through click, with a real worker process."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from robocall.cli import cli
from robocall.config import get_settings
from robocall.db import make_engine
from sms.campaigns import invalid_recipients
from tests.sms.conftest import write_csv


def test_dry_run_shows_segments_and_cost_with_and_without_accents(tmp_path: Path, sms_env: dict[str, str]) -> None:
    path = write_csv(tmp_path / "list.csv", [["Nguyễn Văn An", "0912345678"], ["Trần Thị Bình", "0981234567"],
                                             ["Lê C", "12"]])
    text = "Chào {{ ho_va_ten }}, Sở Y tế đề nghị anh/chị khai báo y tế trước ngày 15/8 tại tokhaiyte.vn."
    result = CliRunner().invoke(cli, ["sms", "send", "--to", str(path), "--text", text, "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "recipients: 2 (0 duplicates, 0 opted out, 1 invalid)" in result.output
    assert "invalid: quá ngắn / too short: 1" in result.output
    assert "as written:                  4 segments             1,200 VND  (0 GSM-7, 2 UCS-2)" in result.output
    assert "--strip-accents:             2 segments               600 VND  (GSM-7)" in result.output


def test_send_with_progress_then_status(tmp_path: Path, sms_env: dict[str, str],
                                        start_workers: Callable[..., object]) -> None:
    path = write_csv(tmp_path / "list.csv", [["A", f"091{i:07d}"] for i in range(250)])
    start_workers(1)
    runner = CliRunner()
    result = runner.invoke(cli, ["sms", "send", "--to", str(path), "--text", "Thông báo", "--strip-accents"])
    assert result.exit_code == 0, result.output
    assert "campaign 1: 250 recipients, 250 segments" in result.output
    assert "campaign 1: finished, 250 recipients" in result.output
    status = runner.invoke(cli, ["sms", "status", "1", "--json"])
    data = __import__("json").loads(status.output)
    assert data["status"] == "finished" and sum(data["by_state"].values()) == 250
    assert runner.invoke(cli, ["sms", "cancel", "1"]).exit_code != 0  # a finished campaign can't be cancelled


def test_unknown_template_field_is_refused(tmp_path: Path, sms_env: dict[str, str]) -> None:
    path = write_csv(tmp_path / "list.csv", [["A", "0912345678"]])
    result = CliRunner().invoke(cli, ["sms", "send", "--to", str(path), "--text", "Chào {{ ten }}"])
    assert result.exit_code != 0 and "ten" in result.output


def test_a_stray_quote_a_bad_byte_and_a_nul_lose_no_neighbour(tmp_path: Path, sms_env: dict[str, str]) -> None:
    path = write_csv(tmp_path / "list.csv", [["An", f"091{i:07d}"] for i in range(100)])
    lines = path.read_bytes().splitlines(keepends=True)
    lines[10] = b'"Stray,0910000009\n'  # a quote never closed: once, every later row was swallowed
    lines[20] = b"H\xe0,0910000019\n"  # one byte that is not UTF-8
    lines[30] = b"N\x00am,0910000029\n"  # a NUL (PostgreSQL refuses it)
    path.write_bytes(b"".join(lines))
    runner = CliRunner()
    result = runner.invoke(cli, ["sms", "send", "--to", str(path), "--text", "Thông báo", "--detach"])
    assert result.exit_code == 0, result.output
    assert "99 recipients" in result.output and "1 invalid" in result.output
    assert 'a quote " opens a cell that is never closed' in result.output
    assert "line 21: byte E0 is not UTF-8" in result.output and "line 31: control characters" in result.output
    [(row, _, reason)] = _invalid()
    assert row == 11 and "never closed" in reason


def _invalid() -> list[tuple[int, str, str]]:
    engine = make_engine(get_settings().database_url)
    try:
        return list(invalid_recipients(engine, 1))
    finally:
        engine.dispose()


@pytest.mark.parametrize(("content", "message"), [
    (b"", "list.csv is empty"),
    ("Tên,SĐT\n".encode(), "list.csv has no row under its header"),
    (b"a,b\n1,2\n", "no phone column found (name it with --phone-column); the headers are: 'a', 'b'"),
])
@pytest.mark.parametrize("mode", [["--dry-run"], ["--detach"], []])
def test_an_unusable_list_is_refused_before_any_campaign_exists(
        tmp_path: Path, sms_env: dict[str, str], content: bytes, message: str, mode: list[str]) -> None:
    (tmp_path / "list.csv").write_bytes(content)
    runner = CliRunner()
    result = runner.invoke(cli, ["sms", "send", "--to", str(tmp_path / "list.csv"), "--text", "x", *mode])
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output
    assert json.loads(runner.invoke(cli, ["sms", "status", "--json"]).output) == []
