"""`robocall demo` runs the main job end to end and its report agrees with `robocall report`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from robocall.logging_setup import unmasked_phones

ROOT = Path(__file__).parents[2]


@pytest.mark.timeout(300)
def test_demo_runs_a_short_campaign_and_prints_the_report(tmp_path: Path, redis_url: str) -> None:
    database = tmp_path / "demo.db"
    # Every record the demo and its workers log, at every level, as a log collector would get them.
    env = {**os.environ, "REDIS_URL": redis_url, "LOG_LEVEL": "DEBUG", "LOG_FORMAT": "json"}
    env.pop("DATABASE_URL", None)
    demo = subprocess.run(
        [sys.executable, "-m", "robocall.cli", "demo", "--contacts", "60", "--days", "3", "--workers", "2",
         "--profile", "outbreak",  # enough cases in three days that flows send their SMS
         "--database", str(database)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=280,
    )
    assert demo.returncode == 0, demo.stderr[-3000:]
    records = [json.loads(line) for line in demo.stderr.splitlines() if line.startswith("{")]
    assert any(r["level"] == "DEBUG" for r in records) and any("call " in str(r["message"]) for r in records)
    leaks = [line for line in demo.stderr.splitlines() if unmasked_phones(line)]
    assert not leaks, "phone numbers in the demo's logs:\n" + "\n".join(leaks[:10])
    out = demo.stdout
    assert "Imported 60 contacts" in out
    assert "BÁO CÁO HỆ THỐNG GỌI ĐIỆN TỰ ĐỘNG (11 thg 8, 2021 → 13 thg 8, 2021)" in out
    assert re.search(r"Tỷ lệ cuộc gọi dẫn tới phân loại\s+\d+,\d%", out)

    report = subprocess.run(
        [sys.executable, "-m", "robocall.cli", "report", "--json", "--from", "2021-08-11", "--to", "2021-08-13"],
        cwd=ROOT, env={**env, "DATABASE_URL": f"sqlite:///{database}"}, capture_output=True, text=True, timeout=60,
    )
    assert report.returncode == 0, report.stderr
    figures = json.loads(report.stdout)
    assert figures["outbound_calls_f1_f2"] > 0 and figures["outbound_calls_returnees"] > 0
    assert figures["inbound_hotline_calls"] > 0
    printed = int(re.search(r"Cuộc gọi tự động tới F1/F2\s+([\d,]+)", out).group(1).replace(",", ""))
    assert printed == figures["outbound_calls_f1_f2"]
    # The flows' SMS after calls (`do: [sms]`) went through the simulated carrier on the demo's workers.
    sent = int(re.search(r"Tin nhắn SMS riêng \(trả lời, hướng dẫn\)\s+([\d,]+)", out).group(1).replace(",", ""))
    assert sent == figures["sms_individual_sent"] > 0
