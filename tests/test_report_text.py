"""The text report (`robocall report`, the demo): every figure in one column whatever the labels'
lengths, in Vietnamese and in English, measured in display columns rather than code points."""

from __future__ import annotations

import unicodedata

import pytest

from robocall.config import get_settings
from robocall.flows.catalog import flow_catalog
from robocall.flows.vocabulary import Vocabulary
from robocall.reports import LABELS, ProvincialReport, format_report
from robocall.text import display_width, pad


def _report(**changes: object) -> ProvincialReport:
    report = ProvincialReport(
        period_from="2021-08-11", period_to="2021-08-24", outbound_calls_f1_f2=2592, outbound_calls_returnees=10,
        outbound_calls_other=0, inbound_hotline_calls=33, calls_answered=1500, calls_completed=1200,
        contacts_called=300, contacts_monitored=400, non_reporting_contacts=12,
        escalations_by_level={"urgent": 3, "home_visit": 12, "a_level_whose_name_is_longer_than_any_label": 2},
        escalations_to_cdc=4, calls_escalated=40, sms_sent=1_234_567, sms_individual_sent=5, sms_declarations=6,
        calls_failed_permanently=3)
    for name, value in changes.items():
        setattr(report, name, value)
    return report


def _figure_lines(text: str) -> list[str]:
    """The lines with a figure: all but the title, the districts line and the level heading."""
    return [line for line in text.splitlines()[1:] if not line.rstrip().endswith(":") and ": " not in line]


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("decomposed", [False, True])
def test_every_figure_of_the_text_report_ends_in_one_column(lang: str, decomposed: bool) -> None:
    report = _report(districts=["Huyện Phú Lộc"])
    text = format_report(report, Vocabulary(), lang)
    if decomposed:  # the same labels as NFD (accents as combining marks): the columns must not move
        text = unicodedata.normalize("NFD", text)
    lines = _figure_lines(text)
    assert len(lines) == len(LABELS) + 1 + 3 + 2  # the figures, the share, three levels, two SMS rows
    ends = {display_width(line) for line in lines}
    assert len(ends) == 1, "\n".join(lines)
    # Each figure is right-aligned in its column, two spaces at least after the longest label.
    starts = {display_width(line) - display_width(line.split("  ")[-1].lstrip()) for line in lines}
    assert min(starts) > max(display_width(line.rstrip("0123456789.,% –")) for line in lines)
    longest = "Số không gọi được (không hợp lệ, chưa được phép)" if lang == "vi" else \
        "Numbers that cannot be called (invalid, not allowed)"
    assert any(unicodedata.normalize("NFC", line).strip().startswith(longest) for line in lines)


def test_the_text_report_is_in_the_language_asked_with_its_districts() -> None:
    names = flow_catalog(get_settings()).vocabulary  # the shipped flows name the levels
    vi, en = format_report(_report(districts=["Huyện Phú Lộc"]), names, "vi"), format_report(_report(), names, "en")
    assert vi.startswith("BÁO CÁO HỆ THỐNG GỌI ĐIỆN TỰ ĐỘNG (11 thg 8, 2021 → 24 thg 8, 2021)")
    assert "Huyện: Huyện Phú Lộc" in vi and "1.234.567" in vi and "Khẩn cấp" in vi
    assert en.startswith("AUTOMATED CALL SYSTEM REPORT (11 Aug 2021 → 24 Aug 2021)")
    assert "1,234,567" in en and "Urgent" in en and "Districts" not in en
    none = format_report(_report(sms_sent=None), Vocabulary(), "en")
    assert "(no SMS campaign)" in none


def test_display_width_counts_columns_not_code_points() -> None:
    decomposed = unicodedata.normalize("NFD", "Số không gọi được")
    assert len(decomposed) > display_width(decomposed) == display_width("Số không gọi được") == 17
    assert display_width("越南") == 4 and display_width("a\u200bb") == 2
    assert pad(decomposed, 20).endswith("   ") and display_width(pad(decomposed, 20)) == 20
    assert pad("12", 5, right=True) == "   12"
