"""`robocall flows try` plays a flow from the command line, as text or JSON."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from robocall.cli import cli

FLOW = str(Path(__file__).parents[2] / "ivr_flows" / "f1_f2_followup.yaml")
URGENT_KEYS = "1,1,1,2,2,2,385#,1,2"


def test_try_prints_transcript_answers_and_escalations() -> None:
    result = CliRunner().invoke(cli, ["flows", "try", FLOW, "--keys", URGENT_KEYS])
    assert result.exit_code == 0, result.output
    assert "☎  presses 385#" in result.output
    assert "  temperature = 38.5" in result.output
    assert "urgent: Khó thở, sốt từ 38 độ trở lên, hoặc sốt kèm ho (rule trieu_chung_nang)" in result.output
    assert result.output.rstrip().endswith("Ended: completed after 11 steps")


def test_try_json_has_the_same_facts() -> None:
    result = CliRunner().invoke(cli, ["flows", "try", FLOW, "--keys", URGENT_KEYS, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["answers"]["temperature"] == 38.5 and data["answers"]["fever"] is True
    assert [(e["rule"], e["level"]) for e in data["escalations"]] == [("trieu_chung_nang", "urgent")]
    assert data["sms"][0]["text"].startswith("TTKSBT đã nhận khai báo của Nguyễn Văn An")
    assert data["end_reason"] == "completed"


def test_try_with_silence_and_hangup_entries() -> None:
    result = CliRunner().invoke(cli, ["flows", "try", FLOW, "--keys", "1, ,1,hangup", "--json"])
    data = json.loads(result.output)
    assert data["answers"] == {"right_person": True, "fever": True}
    assert data["end_reason"] == "caller_hangup"
    assert sum("(silence)" in line for line in data["lines"]) == 2  # the caller's silence and the reply to it


def test_try_in_english() -> None:
    result = CliRunner().invoke(cli, ["flows", "try", FLOW, "--keys", "1", "--language", "en"])
    assert "Are you Nguyễn Văn An?" in result.output


def test_try_refuses_a_broken_flow_with_its_problems() -> None:
    broken = str(Path(__file__).parent / "broken" / "unreachable.yaml")
    result = CliRunner().invoke(cli, ["flows", "try", broken, "--keys", "1"])
    assert result.exit_code == 1
    assert f"{broken}:10: nút 'bi_bo_quen' không bao giờ tới được từ 'a' / node 'bi_bo_quen' can never be reached from 'a'" in result.output
