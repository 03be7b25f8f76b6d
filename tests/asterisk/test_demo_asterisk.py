"""`robocall demo --backend asterisk`: a day of a short campaign through the real Asterisk in var/asterisk,
and a clear error when it is not unpacked."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from robocall.commands import demo as demo_command
from tests.asterisk.conftest import asterisk_prefix

ROOT = Path(__file__).parents[2]


@pytest.mark.timeout(300)
def test_demo_on_asterisk_calls_every_contact_and_prints_the_report(tmp_path: Path, redis_url: str) -> None:
    asterisk_prefix()
    env = {**os.environ, "REDIS_URL": redis_url}
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "robocall.cli", "demo", "--backend", "asterisk", "--contacts", "12", "--workers", "1",
         "--database", str(tmp_path / "demo.db")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=280,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Imported 12 contacts" in done.stdout
    planned, calls = map(int, re.search(r"(\d+) to call, (\d+) calls", done.stdout).groups())  # type: ignore[union-attr]
    assert planned > 0 and calls >= planned
    called = int(re.search(r"Số người được gọi\s+(\d+)", done.stdout).group(1))  # type: ignore[union-attr]
    assert called == planned
    assert "BÁO CÁO HỆ THỐNG GỌI ĐIỆN TỰ ĐỘNG" in done.stdout


def test_demo_on_asterisk_without_asterisk_says_to_run_make_setup(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo_command, "ROOT", tmp_path)  # a checkout where nothing was unpacked
    monkeypatch.delenv("ASTERISK_PREFIX", raising=False)
    result = CliRunner().invoke(demo_command.demo, ["--backend", "asterisk", "--database", str(tmp_path / "d.db")])
    assert result.exit_code == 1
    assert "make setup" in result.output and "var/asterisk" in result.output
    assert "Traceback" not in result.output
