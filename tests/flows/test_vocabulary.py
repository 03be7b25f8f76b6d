"""What staff read for the flows' answers, values and levels: one name per key across every flow, and
one lookup (Vocabulary.name) that falls back to robocall.labels for the system's own values."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from robocall.cli import cli
from robocall.flows.loader import load_flows, vocabulary_of

SHIPPED = Path(__file__).parents[2] / "ivr_flows"


def test_the_shipped_flows_name_their_answers_values_and_levels_in_both_languages() -> None:
    flows, problems = load_flows([SHIPPED])
    assert problems == []
    names = vocabulary_of(flows.values())
    assert names.name("answer", "loss_of_taste_smell", "vi") == "Mất vị giác, khứu giác"
    assert names.name("answer", "loss_of_taste_smell", "en") == "Lost taste or smell"
    assert names.name("value", "ho_chi_minh", "vi", answer="zone") == "TP. Hồ Chí Minh"
    assert names.name("value", "callback", "en", answer="menu_choice") == "Asks for a callback"
    assert names.name("level", "test", "vi") == "Cần xét nghiệm"
    # The system's own values come from robocall.labels; a name no flow gives reads without underscores.
    assert names.name("level", "home_visit", "en") == "Home visit"
    assert names.name("value", "yes", "vi", answer="fever") == "Có"
    assert names.name("call", "no_answer", "vi") == "Không nghe máy"
    assert names.name("level", "retired_level", "vi") == "retired level"
    assert names.name("value", "ho_chi_minh", "vi") == "ho chi minh"  # a value is named within its answer


def test_a_flow_naming_an_answer_differently_from_another_is_refused(tmp_path: Path) -> None:
    for name in ("f1_f2_followup", "hotline"):
        (tmp_path / f"{name}.yaml").write_text((SHIPPED / f"{name}.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    hotline = tmp_path / "hotline.yaml"
    text = hotline.read_text(encoding="utf-8")
    hotline.write_text(text.replace("label: {vi: Sốt, en: Fever}", "label: {vi: Bị sốt, en: Fever}"), encoding="utf-8")
    fever_line = 1 + text.split("label: {vi: Sốt, en: Fever}")[0].count("\n")
    first_line = 1 + (SHIPPED / "f1_f2_followup.yaml").read_text(encoding="utf-8").split(
        "label: {vi: Sốt, en: Fever}")[0].count("\n")

    flows, problems = load_flows([tmp_path])
    assert list(flows) == ["f1_f2_followup"]  # the later file in file order is the one refused
    assert [str(p) for p in problems] == [
        f"{hotline}:{fever_line}: câu trả lời 'fever' đã có tên 'Sốt' / 'Fever' ở {tmp_path / 'f1_f2_followup.yaml'}:"
        f"{first_line}; tên 'Bị sốt' / 'Fever' ở đây khác (cán bộ chỉ thấy một tên cho mỗi câu trả lời)"
        f" / answer 'fever' is already named 'Sốt' / 'Fever' at {tmp_path / 'f1_f2_followup.yaml'}:{first_line};"
        f" 'Bị sốt' / 'Fever' here differs (staff see one name per answer)"]
    result = CliRunner().invoke(cli, ["flows", "check", str(tmp_path)])
    assert result.exit_code == 1 and f"{hotline}:{fever_line}: " in result.output
