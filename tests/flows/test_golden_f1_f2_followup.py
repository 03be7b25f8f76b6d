"""Golden tests of ivr_flows/f1_f2_followup.yaml: exact calls, answers, escalations and endings.

Transcripts live in golden/f1_f2_followup/; UPDATE_GOLDEN=1 rewrites them (see golden.py).
"""

from __future__ import annotations

import pytest
from golden import FIELDS, check_golden, fired, keys, load, play, said

FLOW = load("f1_f2_followup")

# The questions in the order they are asked, and what a healthy resident presses.
HAPPY = {
    "right_person": "1",
    "fever": "2",
    "cough": "2",
    "sore_throat": "2",
    "shortness_of_breath": "2",
    "loss_of_taste_smell": "2",
    "temperature": "365#",
    "at_quarantine_address": "1",
    "needs_help": "2",
}
HAPPY_ANSWERS = {
    "right_person": True,
    "fever": False,
    "cough": False,
    "sore_throat": False,
    "shortness_of_breath": False,
    "loss_of_taste_smell": False,
    "temperature": 36.5,
    "at_quarantine_address": True,
    "needs_help": False,
}
GOODBYE = "🤖 Cảm ơn quý vị đã trả lời. Chúc quý vị và gia đình nhiều sức khỏe. Xin chào."
WILL_CONTACT = "🤖 Cảm ơn quý vị. Cán bộ y tế sẽ liên hệ với quý vị trong thời gian sớm nhất."


# --- the happy path ---------------------------------------------------------------------------


def test_happy_path_transcript() -> None:
    t = play(FLOW, keys(HAPPY))
    check_golden(t, "happy_path")
    assert t.answers == HAPPY_ANSWERS
    assert fired(t) == [] and t.sms == []
    assert t.end_reason == "completed"
    assert said(t)[-2:] == [GOODBYE, "🤖 (hangs up: completed)"]


def test_happy_path_in_english() -> None:
    t = play(FLOW, keys(HAPPY), language="en")
    check_golden(t, "happy_path_en")
    assert t.language == "en"
    assert t.answers == HAPPY_ANSWERS
    assert fired(t) == [] and t.end_reason == "completed"
    assert said(t)[0].startswith("🤖 Hello, this is an automated call") and "Nguyễn Văn An" in said(t)[0]


def test_the_contact_fields_fill_the_prompts() -> None:
    t = play(FLOW, keys(HAPPY))
    assert "Xin hỏi có phải Nguyễn Văn An đang nghe máy không?" in said(t)[0]
    assert said(t)[1].startswith("🤖 Hôm nay là ngày thứ 5 kể từ ngày tiếp xúc.")
    assert FIELDS["days_since_exposure"] == 5


# --- escalation levels: urgent, watch, callback -------------------------------------------------


@pytest.mark.parametrize("pressed", [
    {"shortness_of_breath": "1"},
    {"temperature": "385#"},
    {"temperature": "380#"},  # 38.0 is already a fever
    {"fever": "1", "cough": "1"},
], ids=["short_of_breath", "temperature_38_5", "temperature_38_0", "fever_with_cough"])
def test_urgent(pressed: dict[str, str]) -> None:
    t = play(FLOW, keys(HAPPY, **pressed))
    assert fired(t) == [("trieu_chung_nang", "urgent")]
    assert t.escalations[0]["notify_cdc"] is True and t.escalations[0]["callback"] is False
    assert t.escalations[0]["reason"] == "Khó thở, sốt từ 38 độ trở lên, hoặc sốt kèm ho"
    assert [s["text"] for s in t.sms] == [
        "TTKSBT đã nhận khai báo của Nguyễn Văn An. Cán bộ y tế sẽ liên hệ ngay. Nếu khó thở, gọi 115.",
    ]
    assert t.end_reason == "completed"
    assert said(t)[-2].startswith(WILL_CONTACT)


def test_urgent_transcript() -> None:
    t = play(FLOW, keys(HAPPY, fever="1", cough="1", temperature="385#"))
    check_golden(t, "urgent")
    assert t.answers == {**HAPPY_ANSWERS, "fever": True, "cough": True, "temperature": 38.5}
    assert fired(t) == [("trieu_chung_nang", "urgent")]


def test_temperature_just_under_38_is_not_urgent() -> None:
    t = play(FLOW, keys(HAPPY, temperature="379#"))
    assert t.answers["temperature"] == 37.9
    assert fired(t) == [] and said(t)[-2] == GOODBYE


@pytest.mark.parametrize("symptom", ["fever", "cough", "sore_throat", "loss_of_taste_smell"])
def test_one_mild_symptom_is_watch(symptom: str) -> None:
    t = play(FLOW, keys(HAPPY, **{symptom: "1"}))
    assert t.answers[symptom] is True
    assert fired(t) == [("co_trieu_chung", "watch")]
    assert t.escalations[0]["notify_cdc"] is True and t.sms == []
    assert said(t)[-2].startswith(WILL_CONTACT)


def test_away_from_the_quarantine_address_is_watch() -> None:
    t = play(FLOW, keys(HAPPY, at_quarantine_address="2"))
    assert t.answers["at_quarantine_address"] is False
    assert fired(t) == [("roi_noi_cach_ly", "watch")]
    # Only symptoms and needing help change the goodbye.
    assert said(t)[-2] == GOODBYE


def test_needing_help_is_a_callback() -> None:
    t = play(FLOW, keys(HAPPY, needs_help="1"))
    assert fired(t) == [("can_ho_tro", "callback")]
    assert t.escalations[0]["callback"] is True and t.escalations[0]["notify_cdc"] is False
    assert said(t)[-2].startswith(WILL_CONTACT)


def test_urgent_silences_the_symptom_watch_but_not_the_other_rules() -> None:
    t = play(FLOW, keys(HAPPY, fever="1", cough="1", sore_throat="1", at_quarantine_address="2", needs_help="1"))
    assert fired(t) == [("trieu_chung_nang", "urgent"), ("roi_noi_cach_ly", "watch"), ("can_ho_tro", "callback")]
    assert len(t.sms) == 1


# --- someone else answers -----------------------------------------------------------------------


def test_someone_else_hands_over_the_phone() -> None:
    t = play(FLOW, keys(HAPPY, right_person=["2", "1"]))
    assert t.answers == {**HAPPY_ANSWERS, "right_person": False}
    assert said(t)[1].startswith("🤖 Xin nhờ quý vị chuyển máy cho Nguyễn Văn An, rồi bấm phím 1.")
    assert fired(t) == [] and t.end_reason == "completed"


def test_contact_not_there_ends_politely() -> None:
    t = play(FLOW, ["2", "2"])
    assert t.answers == {"right_person": False}
    assert said(t)[-2:] == ["🤖 Xin cảm ơn. Chúng tôi sẽ gọi lại sau. Xin chào.", "🤖 (hangs up: completed)"]
    assert fired(t) == [] and t.end_reason == "completed"


# --- silence, wrong keys, giving up, hanging up -------------------------------------------------


def test_silence_then_an_answer() -> None:
    t = play(FLOW, keys(HAPPY, fever=["", "2"]))
    assert t.answers == HAPPY_ANSWERS
    assert fired(t) == [] and t.end_reason == "completed"
    assert t.lines.count("🤖 (silence) Xin lỗi, chúng tôi chưa nhận được phím bấm của quý vị.") == 1
    assert t.lines.count("🤖 Trong 24 giờ qua, quý vị có bị sốt không?") == 2


def test_wrong_key_then_an_answer() -> None:
    t = play(FLOW, keys(HAPPY, cough=["7", "2"]))
    assert t.answers == HAPPY_ANSWERS
    assert fired(t) == [] and t.end_reason == "completed"
    assert t.lines.count("🤖 (wrong key) Xin lỗi, phím quý vị vừa bấm không đúng.") == 1
    assert t.lines.count("🤖 Quý vị có bị ho không?") == 2


def test_two_failures_are_still_allowed() -> None:
    t = play(FLOW, keys(HAPPY, sore_throat=["", "9", "2"]))
    assert t.answers == HAPPY_ANSWERS and t.end_reason == "completed"


def test_silence_until_the_call_gives_up() -> None:
    t = play(FLOW, [])
    check_golden(t, "gave_up")
    assert t.answers == {}
    assert fired(t) == [] and t.sms == []
    assert t.end_reason == "gave_up"
    assert t.lines.count("☎  (silence)") == 3  # the question, then retries: 2
    assert said(t)[-2:] == [
        "🤖 Chúng tôi chưa nhận được câu trả lời. Cán bộ y tế sẽ gọi lại cho quý vị sau. Xin chào.",
        "🤖 (hangs up: gave_up)",
    ]


def test_giving_up_midway_keeps_the_answers_and_escalates_them() -> None:
    t = play(FLOW, ["1", "2", "1"])  # a cough, then nothing more
    assert t.answers == {"right_person": True, "fever": False, "cough": True}
    assert fired(t) == [("co_trieu_chung", "watch")]
    assert t.end_reason == "gave_up"


def test_hangup_in_the_middle() -> None:
    t = play(FLOW, ["1", "1", "1", "hangup"])
    assert t.answers == {"right_person": True, "fever": True, "cough": True}
    assert fired(t) == [("trieu_chung_nang", "urgent")]
    assert len(t.sms) == 1
    assert t.end_reason == "caller_hangup"
    assert "☎  (hangs up)" in t.lines
    assert not any(line.startswith("🤖 (hangs up") for line in t.lines)  # the caller hung up, not us
    assert said(t)[-1] == "🤖 Quý vị có bị đau họng không?"


def test_hangup_before_any_answer_escalates_nothing() -> None:
    t = play(FLOW, ["hangup"])
    assert t.answers == {} and fired(t) == [] and t.end_reason == "caller_hangup"


# --- the temperature ---------------------------------------------------------------------------


@pytest.mark.parametrize("wrong", ["335#", "431#", "36#", "#", "3*5#"],
                         ids=["too_low", "too_high", "two_digits", "only_hash", "star"])
def test_invalid_temperature_then_a_valid_one(wrong: str) -> None:
    t = play(FLOW, keys(HAPPY, temperature=[wrong, "365#"]))
    assert t.answers == HAPPY_ANSWERS
    assert fired(t) == [] and t.end_reason == "completed"
    assert t.lines.count(
        "🤖 (wrong key) Xin lỗi, nhiệt độ vừa nhập không hợp lệ. Nhiệt độ phải từ 34 đến 43 độ.") == 1


def test_temperature_limits_are_inclusive() -> None:
    assert play(FLOW, keys(HAPPY, temperature="340#")).answers["temperature"] == 34.0
    assert play(FLOW, keys(HAPPY, temperature="430#")).answers["temperature"] == 43.0


def test_no_temperature_moves_on_to_the_next_question() -> None:
    rest = list(keys(HAPPY))[7:]
    t = play(FLOW, keys(HAPPY)[:6] + ["", "", ""] + rest)
    assert t.answers == {k: v for k, v in HAPPY_ANSWERS.items() if k != "temperature"}
    assert fired(t) == []
    assert t.end_reason == "completed"  # the call went on after the skipped question
