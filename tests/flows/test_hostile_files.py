"""Flow files that are broken on purpose, or by accident, never crash a loader, `flows check` or a process.

The small cases are files in tests/flows/broken/ (checked line by line by test_validation.py); the large
ones (deep nesting, huge numbers, alias bombs, oversize files) are generated here.  Whatever a file holds,
`flows check` answers with `file:line: message` lines and an exit code, and the other flows still load.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from robocall.cli import cli
from robocall.config import Settings
from robocall.flows import FlowError, load_flow
from robocall.flows.catalog import flow_catalog, forget_loaded_flows
from robocall.flows.loader import load_flows, parse_flow
from robocall.flows.yaml_source import MAX_ALIAS_NODES, MAX_DEPTH, MAX_FILE_BYTES

BROKEN = Path(__file__).parent / "broken"
SHIPPED = Path(__file__).parents[2] / "ivr_flows"
SHIPPED_NAMES = ["f1_f2_followup", "hotline", "returnee_check"]


def check(*paths: Path) -> Result:
    return CliRunner().invoke(cli, ["flows", "check", *map(str, paths)])


def only_problem(path: Path) -> tuple[int, str]:
    """The one problem `path` has, as (line, message)."""
    with pytest.raises(FlowError) as raised:
        load_flow(path)
    problems = raised.value.problems
    assert len(problems) == 1, problems
    assert problems[0].file == str(path)
    return problems[0].line, problems[0].message


# --- large inputs, generated ----------------------------------------------------------------------
def test_twenty_thousand_nested_brackets_are_refused_at_their_line(tmp_path: Path) -> None:
    path = tmp_path / "nested.yaml"
    path.write_text("name: nested\ntitle: Lồng nhau\nnodes: " + "[" * 20_000 + "]" * 20_000 + "\n")
    line, message = only_problem(path)
    assert line == 3
    assert message == f"lồng nhau quá sâu (hơn {MAX_DEPTH} cấp) / nested too deep (over {MAX_DEPTH} levels)"


def test_nesting_made_deep_by_an_alias_is_refused(tmp_path: Path) -> None:
    deep = "[" * 30 + "]" * 30
    path = tmp_path / "deep_alias.yaml"
    path.write_text(f"a: &a {deep}\nb:\n  c: {'[' * 20}*a{']' * 20}\n")
    line, message = only_problem(path)
    assert line == 3 and message.startswith("lồng nhau quá sâu")


def test_a_recursive_alias_is_refused() -> None:
    line, message = only_problem(BROKEN / "recursive_alias.yaml")
    assert (line, message) == (6, "bí danh *cac_nut nằm trong chính nó / alias *cac_nut refers to itself (a recursive alias)")


def test_a_five_thousand_digit_number_is_refused(tmp_path: Path) -> None:
    text = (SHIPPED / "f1_f2_followup.yaml").read_text(encoding="utf-8")
    assert "min: 34.0" in text
    path = tmp_path / "huge_min.yaml"
    path.write_text(text.replace("min: 34.0", "min: " + "9" * 5000), encoding="utf-8")
    line, message = only_problem(path)
    assert line == next(i for i, row in enumerate(path.read_text().splitlines(), 1) if "9999" in row)
    assert message == "số quá dài (5000 ký tự, tối đa 32) / number too long (5000 characters, at most 32)"


def alias_bomb(depth: int, width: int = 9) -> str:
    """The 'billion laughs': each level a list of `width` aliases of the level below."""
    lines = ["name: bom", "title: Bom bí danh", "l0: &l0 [" + ", ".join(["ha"] * width) + "]"]
    for level in range(1, depth + 1):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("depth", [6, 7])
def test_an_alias_bomb_is_refused_within_the_expansion_budget(tmp_path: Path, depth: int) -> None:
    text = alias_bomb(depth) + "# " + "x" * 8000 + "\n"  # the size of the file in the issue: 8 KB
    path = tmp_path / "bomb.yaml"
    path.write_text(text)
    line, message = only_problem(path)
    # l1 adds 9 * 10 nodes, l2 9 * 91, l3 9 * 820: the budget runs out on l3's line, the 6th
    assert line == 6
    assert message == (f"bí danh (alias) mở rộng quá lớn (hơn {MAX_ALIAS_NODES} phần tử) / "
                       f"aliases expand to too much (over {MAX_ALIAS_NODES} items)")


def test_a_few_small_aliases_are_fine(tmp_path: Path) -> None:
    text = (SHIPPED / "f1_f2_followup.yaml").read_text(encoding="utf-8")
    first = text.index("  no_input:\n")
    assert "defaults:" in text[:first]
    path = tmp_path / "aliases.yaml"
    path.write_text(text.replace("  no_input:\n", "  no_input: &xin_loi\n", 1), encoding="utf-8")
    assert load_flow(path).name == "f1_f2_followup"


def test_an_oversize_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("# " + "x" * MAX_FILE_BYTES + "\n")
    size = path.stat().st_size
    assert only_problem(path) == (1, f"tệp quá lớn ({size} byte, tối đa {MAX_FILE_BYTES}) / "
                                     f"the file is too large ({size} bytes, at most {MAX_FILE_BYTES})")


def test_a_pipe_or_a_device_named_like_a_flow_is_refused_without_reading_it(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")  # reading it would wait for a writer for ever
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")  # reading it would never end
    shutil.copy(SHIPPED / "hotline.yaml", tmp_path / "hotline.yaml")
    flows, problems = load_flows([tmp_path])
    assert list(flows) == ["hotline"]
    assert [str(p) for p in problems] == [f"{tmp_path / name}:1: không phải một tệp thường / not a regular file"
                                          for name in ("pipe.yaml", "zero.yaml")]


# --- one bad file among good ones -----------------------------------------------------------------
@pytest.mark.parametrize("bad", ["control_bell.yaml", "control_nul.yaml", "recursive_alias.yaml", "loop_no_exit.yaml"])
def test_check_names_the_bad_file_and_still_passes_the_others(tmp_path: Path, bad: str) -> None:
    for path in [*SHIPPED.glob("*.yaml"), BROKEN / bad]:
        shutil.copy(path, tmp_path / path.name)
    result = check(tmp_path)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    refused = [line for line in result.output.splitlines() if line.startswith(f"{tmp_path / bad}:")]
    assert refused and all(":" in line.split(f"{bad}:", 1)[1] for line in refused)
    for name in SHIPPED_NAMES:
        assert f"ok  {tmp_path / name}.yaml" in result.output


def test_the_catalog_of_a_process_loads_the_others_and_logs_the_refused_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    flows_dir = tmp_path / "flows"
    flows_dir.mkdir()
    for path in [*SHIPPED.glob("*.yaml"), BROKEN / "control_bell.yaml"]:
        shutil.copy(path, flows_dir / path.name)
    (flows_dir / "nested.yaml").write_text("nodes: " + "[" * 20_000 + "]" * 20_000 + "\n")
    forget_loaded_flows()
    try:
        with caplog.at_level(logging.ERROR, logger="robocall.flows.catalog"):
            catalog = flow_catalog(Settings(flows_dir=flows_dir, audio_dir=tmp_path / "audio"))
    finally:
        forget_loaded_flows()
    assert sorted(catalog.flows) == SHIPPED_NAMES
    assert sorted(p.file for p in catalog.problems) == [str(flows_dir / "control_bell.yaml"),
                                                       str(flows_dir / "nested.yaml")]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert f"flow refused: {flows_dir / 'control_bell.yaml'}:8: ký tự điều khiển U+0007" in logged
    assert f"flow refused: {flows_dir / 'nested.yaml'}:1: lồng nhau quá sâu" in logged


# --- flows try ------------------------------------------------------------------------------------
def test_try_refuses_a_language_the_flow_does_not_declare() -> None:
    result = CliRunner().invoke(cli, ["flows", "try", str(SHIPPED / "hotline.yaml"), "--language", "fr"])
    assert result.exit_code == 1
    assert ("kịch bản 'hotline' không có ngôn ngữ 'fr' (chỉ có: vi, en) / "
            "flow 'hotline' has no language 'fr' (it has: vi, en)") in result.output
    assert "🤖" not in result.output


def test_try_still_plays_a_declared_language() -> None:
    result = CliRunner().invoke(cli, ["flows", "try", str(SHIPPED / "hotline.yaml"), "--language", "en"])
    assert result.exit_code == 0, result.output


# --- whatever the bytes, no traceback -------------------------------------------------------------
def assert_check_answers(path: Path) -> None:
    """`flows check` ends with an exit code and its own messages, never an exception; the loader
    itself raises nothing but FlowError (so load_flows' last-resort guard is never what catches it)."""
    result = check(path)
    assert result.exit_code in (0, 1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output and "internal error" not in result.output
    flows, problems = load_flows([path])
    assert bool(flows) != bool(problems)
    for problem in problems:  # each names its place (file:line) and says what, Vietnamese first
        assert problem.file == str(path) and problem.line >= 1, problem
        assert " / " in problem.message and problem.message.partition(" / ")[0].strip(), problem


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30),
    st.sampled_from(["vi", "en", "a", "b", "het", "{{ name }}", "{{ x.y }}", "1", "#", "yes", ".nan", ""]),
)
yaml_data = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.one_of(st.text(max_size=10), st.sampled_from(
            ["name", "title", "languages", "start", "nodes", "say", "keys", "next", "hangup", "number",
             "date", "save", "give_up", "escalations", "level", "when", "min", "max", "defaults",
             "label", "levels"])),
            inner, max_size=6),
    ),
    max_leaves=40,
)
HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


@settings(max_examples=60, deadline=None, suppress_health_check=HEALTH)
@given(data=yaml_data)
def test_random_yaml_never_gives_a_traceback(tmp_path: Path, data: object) -> None:
    path = tmp_path / "random.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert_check_answers(path)


@settings(max_examples=60, deadline=None, suppress_health_check=HEALTH)
@given(raw=st.binary(max_size=400))
def test_random_bytes_never_give_a_traceback(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "random.yaml"
    path.write_bytes(raw)
    assert_check_answers(path)


SHIPPED_TEXT = (SHIPPED / "f1_f2_followup.yaml").read_text(encoding="utf-8")


@settings(max_examples=80, deadline=None, suppress_health_check=HEALTH)
@given(cut=st.integers(0, len(SHIPPED_TEXT)), length=st.integers(0, 40),
       insert=st.one_of(st.text(max_size=20), st.sampled_from(
           ["\x07", "\x00", "*a", "&a ", "{{ name.__class__ }}", "[[[[", ": ", "\n  - ", ".nan", "9" * 40, "'", '"'])))
def test_a_shipped_flow_edited_anyhow_never_gives_a_traceback(tmp_path: Path, cut: int, length: int, insert: str) -> None:
    path = tmp_path / "edited.yaml"
    path.write_text(SHIPPED_TEXT[:cut] + insert + SHIPPED_TEXT[cut + length:], encoding="utf-8", errors="surrogatepass")
    assert_check_answers(path)


@settings(max_examples=60, deadline=None)
@given(data=yaml_data)
def test_the_loader_raises_only_flow_errors(data: object) -> None:
    try:
        parse_flow(yaml.safe_dump(data, allow_unicode=True), "random.yaml")
    except FlowError as error:
        assert error.problems
