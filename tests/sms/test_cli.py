"""`robocall sms ...` through click, with a real worker process."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from robocall.cli import cli
from tests.sms.conftest import write_csv


def test_dry_run_shows_segments_and_cost_with_and_without_accents(tmp_path: Path, sms_env: dict[str, str]) -> None:
    path = write_csv(tmp_path / "list.csv", [["Nguyễn Văn An", "0912345678"], ["Trần Thị Bình", "0981234567"],
                                             ["Lê C", "12"]])
    text = "Chào {{ ho_va_ten }}, Sở Y tế đề nghị anh/chị khai báo y tế trước ngày 15/8 tại tokhaiyte.vn."
    result = CliRunner().invoke(cli, ["sms", "send", "--to", str(path), "--text", text, "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "recipients: 2 (0 duplicates, 0 opted out, 1 invalid)" in result.output
    assert "invalid: too short: 1" in result.output
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


def test_a_list_that_breaks_mid_way_keeps_the_rows_read_and_names_the_line(
        tmp_path: Path, sms_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from sms import campaigns

    monkeypatch.setattr(campaigns, "CHUNK", 100)  # rows per load transaction: two chunks before the bad line
    path = write_csv(tmp_path / "list.csv", [["A", f"091{i:07d}"] for i in range(250)])
    with path.open("ab") as handle:  # a line saved in Latin-1, then more rows
        handle.write("Hà,0919999999\n".encode("latin-1") + b"B,0918888888\n")
    runner = CliRunner()
    result = runner.invoke(cli, ["sms", "send", "--to", str(path), "--text", "Thông báo"])
    assert result.exit_code != 0
    assert "line 252 is not UTF-8 text" in result.output
    assert "campaign 1 is paused with what was loaded" in result.output
    status = json.loads(runner.invoke(cli, ["sms", "status", "1", "--json"]).output)
    assert status["status"] == "paused" and status["recipients"] == 250
    assert status["by_state"] == {"queued": 250}  # every row before the bad line, nothing lost or sent
