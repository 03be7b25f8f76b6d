"""Broken flows are refused with every problem named at its line; shipped flows load clean."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from robocall.cli import cli
from robocall.flows import FlowError, load_flow, load_flows, parse_flow

BROKEN = Path(__file__).parent / "broken"
SHIPPED = Path(__file__).parents[2] / "ivr_flows"
EXPECT = re.compile(r"^# expect: (\d+): (.*)$", re.MULTILINE)


def expected_problems(path: Path) -> list[str]:
    """The `# expect: LINE: message` comments at the bottom of a broken flow, as CLI lines."""
    return [f"{path}:{line}: {message}" for line, message in EXPECT.findall(path.read_text())]


BROKEN_FILES = sorted(BROKEN.glob("*.yaml"))


def test_every_broken_file_states_its_expectations() -> None:
    assert len(BROKEN_FILES) >= 10
    for path in BROKEN_FILES:
        assert expected_problems(path), f"{path.name} has no '# expect:' lines"


@pytest.mark.parametrize("path", BROKEN_FILES, ids=lambda p: p.stem)
def test_loader_reports_exactly_the_expected_problems(path: Path) -> None:
    with pytest.raises(FlowError) as raised:
        load_flow(path)
    assert [str(p) for p in raised.value.problems] == expected_problems(path)


@pytest.mark.parametrize("path", BROKEN_FILES, ids=lambda p: p.stem)
def test_check_command_lists_problems_and_fails(path: Path) -> None:
    result = CliRunner().invoke(cli, ["flows", "check", str(path)])
    assert result.exit_code == 1
    wanted = expected_problems(path)
    printed = [line for line in result.output.splitlines() if line.startswith(str(path))]
    assert printed == wanted
    assert f"{len(wanted)} problem" in result.output


def test_check_passes_on_the_shipped_flows() -> None:
    result = CliRunner().invoke(cli, ["flows", "check", str(SHIPPED)])
    assert result.exit_code == 0, result.output
    for name in ("f1_f2_followup", "returnee_check", "hotline"):
        assert f"{name}.yaml" in result.output


def test_check_with_a_missing_path_fails() -> None:
    result = CliRunner().invoke(cli, ["flows", "check", "no/such/flow.yaml"])
    assert result.exit_code == 1
    assert "no/such/flow.yaml:1: không có tệp hay thư mục này / no such file or directory" in result.output


def test_a_broken_flow_does_not_stop_the_valid_ones_loading(tmp_path: Path) -> None:
    for path in [SHIPPED / "f1_f2_followup.yaml", BROKEN / "rules.yaml"]:
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    flows, problems = load_flows([tmp_path])
    assert list(flows) == ["f1_f2_followup"]
    assert problems and all(p.file.endswith("rules.yaml") for p in problems)


def test_two_files_with_the_same_flow_name_are_refused(tmp_path: Path) -> None:
    text = (SHIPPED / "f1_f2_followup.yaml").read_text(encoding="utf-8")
    (tmp_path / "a.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(text, encoding="utf-8")
    flows, problems = load_flows([tmp_path])
    assert list(flows) == ["f1_f2_followup"]
    assert [p.message for p in problems] == [f"tên kịch bản 'f1_f2_followup' đã được dùng ở {tmp_path / 'a.yaml'}"
                                             f" / flow name 'f1_f2_followup' is already used by {tmp_path / 'a.yaml'}"]
    assert problems[0].file == str(tmp_path / "b.yaml") and problems[0].line == 5


def test_schema_errors_are_told_in_vietnamese_then_english() -> None:
    """pydantic's error types an officer meets: a missing key, a choice not among the allowed ones."""
    text = ("name: nho\nlanguages: [vi]\nstart: a\ndirection: sideways\n"
            "nodes:\n  a: {say: {vi: Xin chào}, hangup: true}\n")
    with pytest.raises(FlowError) as raised:
        parse_flow(text, "nho.yaml")
    assert [str(p) for p in raised.value.problems] == [
        "nho.yaml:1: thiếu khóa 'title' trong kịch bản / missing key 'title' in the flow",
        "nho.yaml:4: direction: phải là một trong: 'outbound' hoặc 'inbound'"
        " / direction: Input should be 'outbound' or 'inbound'",
    ]
