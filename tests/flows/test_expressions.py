"""The rule language: what it allows, what it refuses, and how unanswered questions read."""

from __future__ import annotations

import pytest

from robocall.flows.expressions import ExpressionError, evaluate, names_in


@pytest.mark.parametrize(("expression", "values", "expected"), [
    ("shortness_of_breath or temperature >= 38.0 or (fever and cough)", {"temperature": 38.0}, True),
    ("shortness_of_breath or temperature >= 38.0 or (fever and cough)", {"fever": True, "cough": False}, False),
    ("temperature >= 38.0", {}, False),  # unanswered is never a fever
    ("temperature < 38.0", {}, False),
    ("zone in (\"ha_noi\", \"other\")", {"zone": "other"}, True),
    ("zone in [\"ha_noi\"]", {"zone": None}, False),
    ("test_status == \"positive\"", {"test_status": "positive"}, True),
    ("at_quarantine_address == no", {"at_quarantine_address": False}, True),
    ("at_quarantine_address == no", {}, False),
    ("not needs_help", {"needs_help": False}, True),
    ("temperature > \"37\"", {"temperature": 38.5}, False),  # text is never ordered against a number
    # `in` over an answer that is not a text or list is false, never a TypeError on a live call
    ("province in temperature", {"province": "hue"}, False),
    ("province not in temperature", {"province": "hue", "temperature": 38.5}, False),
    ("fever in 5", {"fever": True}, False),
    ("5 in name", {"name": "An"}, False),
    ("\"An\" in name", {"name": "Nguyễn Văn An"}, True),
    ("\"Bình\" not in name", {"name": "Nguyễn Văn An"}, True),
])
def test_evaluate(expression: str, values: dict, expected: bool) -> None:
    assert evaluate(expression, values) is expected


def test_names_are_the_answers_read() -> None:
    assert names_in("fever and (cough or temperature >= 38) and zone in ('a', 'b') and yes") == {
        "fever", "cough", "temperature", "zone"}


@pytest.mark.parametrize("expression", [
    "__import__('os').system('id')", "fever.__class__", "[x for x in fever]", "{'a': 1}", "len(fever)",
    "fever if cough else sore_throat", "temperature + 1 > 38", "lambda: 1",
])
def test_anything_but_comparisons_and_logic_is_refused(expression: str) -> None:
    with pytest.raises(ExpressionError, match="not allowed"):
        names_in(expression)


def test_syntax_errors_are_explained() -> None:
    with pytest.raises(ExpressionError, match="không đọc được điều kiện 'fever >=': .* / cannot read the expression 'fever >='"):
        names_in("fever >=")


@pytest.mark.parametrize(("expression", "message"), [
    ("-" * 999 + "1", "điều kiện lồng nhau quá sâu / the condition nests too deep"),
    ("not " * 100_000 + "fever", "điều kiện quá dài (400005 ký tự, tối đa 1000) / the condition is too long"),
    ('name == "' + "a" * 200_000 + '"', "the condition is too long"),
])
def test_conditions_that_would_fail_when_evaluated_are_refused_when_read(expression: str, message: str) -> None:
    with pytest.raises(ExpressionError) as raised:
        names_in(expression)
    assert message in str(raised.value)
