"""Golden tests of ivr_flows/returnee_check.yaml: people back from an outbreak zone.

Transcripts live in golden/returnee_check/; UPDATE_GOLDEN=1 rewrites them (see golden.py).
The fixed contact is called on 15/08/2021, so a return date must lie in 16/07/2021 .. 15/08/2021.
"""

from __future__ import annotations

import datetime as dt

import pytest
from golden import check_golden, fired, keys, load, play, said

from robocall.flows.script import sample_fields

FLOW = load("returnee_check")

HAPPY = {
    "right_person": "1",
    "returned_from_zone": "1",
    "return_date": "1008#",
    "zone": "1",
    "fever": "2",
    "cough": "2",
    "sore_throat": "2",
    "shortness_of_breath": "2",
    "loss_of_taste_smell": "2",
    "quarantine_commitment": "1",
    "test_status": "1",
}
HAPPY_ANSWERS = {
    "right_person": True,
    "returned_from_zone": True,
    "return_date": "2021-08-10",
    "zone": "ha_noi",
    "fever": False,
    "cough": False,
    "sore_throat": False,
    "shortness_of_breath": False,
    "loss_of_taste_smell": False,
    "quarantine_commitment": True,
    "test_status": "negative",
}
GOODBYE = (
    "🤖 Cảm ơn quý vị đã trả lời. Xin tự cách ly tại nhà đủ 14 ngày và theo dõi sức khỏe hằng ngày. "
    "Nếu có sốt, ho hoặc khó thở, xin báo ngay cho trạm y tế xã, phường. "
    "Chúc quý vị và gia đình nhiều sức khỏe. Xin chào."
)
URGENT_END = "🤖 Cảm ơn quý vị. Cán bộ y tế sẽ liên hệ với quý vị ngay."
TEST_END = "🤖 Cảm ơn quý vị. Cán bộ trạm y tế xã, phường sẽ liên hệ để hẹn lịch lấy mẫu xét nghiệm cho quý vị."
WILL_CONTACT = "🤖 Cảm ơn quý vị. Cán bộ y tế sẽ liên hệ với quý vị trong thời gian sớm nhất."
URGENT_SMS = ("TTKSBT đã nhận khai báo của Nguyễn Văn An. Cán bộ y tế sẽ liên hệ ngay. "
              "Xin ở yên trong nhà, đeo khẩu trang. Nếu khó thở, gọi 115.")
DATE_INVALID = "🤖 (wrong key) Xin lỗi, ngày vừa nhập không hợp lệ. Xin nhập một ngày trong vòng 30 ngày qua."


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
    assert t.answers == HAPPY_ANSWERS
    assert fired(t) == [] and t.end_reason == "completed"
    assert said(t)[1] == "🤖 Are you Nguyễn Văn An? If yes, press 1. If someone else is answering, press 2."


def test_waiting_for_a_result_is_not_escalated() -> None:
    t = play(FLOW, keys(HAPPY, test_status="4"))
    assert t.answers["test_status"] == "waiting"
    assert fired(t) == [] and said(t)[-2] == GOODBYE


@pytest.mark.parametrize(("key", "zone"), [
    ("1", "ha_noi"), ("2", "ho_chi_minh"), ("3", "binh_duong"), ("4", "dong_nai"), ("5", "other"),
])
def test_every_zone(key: str, zone: str) -> None:
    t = play(FLOW, keys(HAPPY, zone=key))
    assert t.answers == {**HAPPY_ANSWERS, "zone": zone}
    assert fired(t) == [] and t.end_reason == "completed"


# --- not a returnee, or not the right person ---------------------------------------------------


def test_did_not_return_from_a_zone_ends_politely_and_is_recorded() -> None:
    t = play(FLOW, ["1", "2"])
    check_golden(t, "not_returned")
    assert t.answers == {"right_person": True, "returned_from_zone": False}
    assert fired(t) == [] and t.end_reason == "completed"
    assert said(t)[-2].startswith("🤖 Xin cảm ơn quý vị đã cho biết. Chúng tôi sẽ cập nhật lại thông tin")


def test_someone_else_hands_over_the_phone() -> None:
    t = play(FLOW, keys(HAPPY, right_person=["2", "1"]))
    assert t.answers == {**HAPPY_ANSWERS, "right_person": False}
    assert said(t)[3] == "🤖 Xin chào Nguyễn Văn An. Đây là cuộc gọi tự động của Trung tâm Kiểm soát bệnh tật tỉnh."
    assert fired(t) == [] and t.end_reason == "completed"


def test_contact_not_there_ends_politely() -> None:
    t = play(FLOW, ["2", "2"])
    assert t.answers == {"right_person": False}
    assert said(t)[-2:] == ["🤖 Xin cảm ơn. Chúng tôi sẽ gọi lại sau. Xin chào.", "🤖 (hangs up: completed)"]
    assert fired(t) == [] and t.end_reason == "completed"


# --- escalation levels: urgent, watch, test ----------------------------------------------------


def test_positive_test_is_urgent() -> None:
    t = play(FLOW, keys(HAPPY, test_status="2"))
    check_golden(t, "positive_test")
    assert t.answers == {**HAPPY_ANSWERS, "test_status": "positive"}
    assert fired(t) == [("xet_nghiem_duong_tinh", "urgent")]
    assert t.escalations[0]["notify_cdc"] is True and t.escalations[0]["callback"] is False
    assert [s["text"] for s in t.sms] == [URGENT_SMS]
    assert said(t)[-2].startswith(URGENT_END) and t.end_reason == "completed"


@pytest.mark.parametrize("pressed", [
    {"shortness_of_breath": "1"},
    {"fever": "1", "cough": "1"},
], ids=["short_of_breath", "fever_with_cough"])
def test_severe_symptoms_are_urgent(pressed: dict[str, str]) -> None:
    t = play(FLOW, keys(HAPPY, **pressed))
    assert fired(t) == [("trieu_chung_nang", "urgent")]
    assert t.escalations[0]["reason"] == "Khó thở, hoặc sốt kèm ho"
    assert [s["text"] for s in t.sms] == [URGENT_SMS]
    assert said(t)[-2].startswith(URGENT_END)


def test_positive_with_severe_symptoms_sends_one_sms() -> None:
    t = play(FLOW, keys(HAPPY, shortness_of_breath="1", fever="1", test_status="2"))
    assert fired(t) == [("xet_nghiem_duong_tinh", "urgent")]
    assert len(t.sms) == 1


@pytest.mark.parametrize("symptom", ["fever", "cough", "sore_throat", "loss_of_taste_smell"])
def test_one_other_symptom_is_watch(symptom: str) -> None:
    t = play(FLOW, keys(HAPPY, **{symptom: "1"}))
    assert fired(t) == [("co_trieu_chung", "watch")]
    assert t.escalations[0]["notify_cdc"] is True and t.sms == []
    assert said(t)[-2].startswith(WILL_CONTACT)


def test_symptoms_are_not_also_watch_when_urgent() -> None:
    t = play(FLOW, keys(HAPPY, fever="1", cough="1", sore_throat="1"))
    assert fired(t) == [("trieu_chung_nang", "urgent")]


def test_refusing_home_quarantine_is_watch() -> None:
    t = play(FLOW, keys(HAPPY, quarantine_commitment="2"))
    assert t.answers == {**HAPPY_ANSWERS, "quarantine_commitment": False}
    assert fired(t) == [("khong_cam_ket_cach_ly", "watch")]
    assert "🤖 Tự cách ly tại nhà là quy định bắt buộc để bảo vệ gia đình và cộng đồng. " \
           "Cán bộ y tế sẽ liên hệ để hướng dẫn thêm cho quý vị." in said(t)
    assert said(t)[-2].startswith(WILL_CONTACT)


def test_not_tested_asks_the_commune_to_arrange_a_test() -> None:
    t = play(FLOW, keys(HAPPY, test_status="3"))
    check_golden(t, "not_tested")
    assert t.answers == {**HAPPY_ANSWERS, "test_status": "not_tested"}
    assert fired(t) == [("chua_xet_nghiem", "test")]
    assert t.escalations[0]["callback"] is True and t.escalations[0]["notify_cdc"] is False
    assert t.sms == []
    assert said(t)[-2].startswith(TEST_END)


def test_urgent_and_not_tested_raise_both() -> None:
    t = play(FLOW, keys(HAPPY, shortness_of_breath="1", test_status="3"))
    assert fired(t) == [("trieu_chung_nang", "urgent"), ("chua_xet_nghiem", "test")]
    assert said(t)[-2].startswith(URGENT_END)


def test_symptom_refusal_and_no_test_raise_all_three() -> None:
    t = play(FLOW, keys(HAPPY, sore_throat="1", quarantine_commitment="2", test_status="3"))
    assert fired(t) == [("co_trieu_chung", "watch"), ("khong_cam_ket_cach_ly", "watch"), ("chua_xet_nghiem", "test")]
    assert said(t)[-2].startswith(TEST_END)


# --- silence, wrong keys, giving up, hanging up -------------------------------------------------


def test_silence_then_an_answer() -> None:
    t = play(FLOW, keys(HAPPY, zone=["", "2"]))
    assert t.answers == {**HAPPY_ANSWERS, "zone": "ho_chi_minh"}
    assert fired(t) == [] and t.end_reason == "completed"
    assert t.lines.count("🤖 (silence) Xin lỗi, chúng tôi chưa nhận được phím bấm của quý vị.") == 1


def test_wrong_key_then_an_answer() -> None:
    t = play(FLOW, keys(HAPPY, test_status=["5", "1"]))
    assert t.answers == HAPPY_ANSWERS
    assert fired(t) == [] and t.end_reason == "completed"
    assert t.lines.count("🤖 (wrong key) Xin lỗi, phím quý vị vừa bấm không đúng.") == 1


def test_a_repeated_question_does_not_repeat_the_greeting() -> None:
    t = play(FLOW, keys(HAPPY, right_person=["", "1"]))
    assert sum("Xin chào, đây là cuộc gọi tự động" in line for line in t.lines) == 1
    assert t.lines.count("🤖 Xin hỏi có phải Nguyễn Văn An đang nghe máy không? "
                         "Nếu đúng, xin bấm phím 1. Nếu là người khác, xin bấm phím 2.") == 2


def test_silence_until_the_call_gives_up() -> None:
    t = play(FLOW, [])
    check_golden(t, "gave_up")
    assert t.answers == {}
    assert fired(t) == [] and t.end_reason == "gave_up"
    assert said(t)[-2:] == [
        "🤖 Chúng tôi chưa nhận được câu trả lời. Cán bộ y tế sẽ gọi lại cho quý vị sau. Xin chào.",
        "🤖 (hangs up: gave_up)",
    ]


def test_giving_up_at_the_last_question_keeps_the_answers() -> None:
    t = play(FLOW, keys(HAPPY, fever="1", test_status=["", "9", ""]))
    assert t.answers == {k: v for k, v in {**HAPPY_ANSWERS, "fever": True}.items() if k != "test_status"}
    assert fired(t) == [("co_trieu_chung", "watch")]
    assert t.end_reason == "gave_up"


def test_hangup_in_the_middle() -> None:
    t = play(FLOW, ["1", "1", "1008#", "2", "1", "1", "hangup"])
    assert t.answers == {"right_person": True, "returned_from_zone": True, "return_date": "2021-08-10",
                         "zone": "ho_chi_minh", "fever": True, "cough": True}
    assert fired(t) == [("trieu_chung_nang", "urgent")]
    assert len(t.sms) == 1
    assert t.end_reason == "caller_hangup"
    assert not any(line.startswith("🤖 (hangs up") for line in t.lines)
    assert said(t)[-1] == "🤖 Quý vị có bị đau họng không?"


# --- the return date -----------------------------------------------------------------------------


@pytest.mark.parametrize("wrong", ["3202#", "0013#", "1608#", "1507#", "108#", "#"],
                         ids=["day_32", "month_13", "tomorrow", "31_days_ago", "three_digits", "only_hash"])
def test_invalid_date_then_a_valid_one(wrong: str) -> None:
    t = play(FLOW, keys(HAPPY, return_date=[wrong, "1008#"]))
    assert t.answers == HAPPY_ANSWERS
    assert fired(t) == [] and t.end_reason == "completed"
    assert t.lines.count(DATE_INVALID) == 1


@pytest.mark.parametrize(("typed", "date"), [
    ("1508#", "2021-08-15"),  # today
    ("1607#", "2021-07-16"),  # 30 days ago, the oldest allowed
    ("10082021#", "2021-08-10"),  # with the year
])
def test_date_range(typed: str, date: str) -> None:
    assert play(FLOW, keys(HAPPY, return_date=typed)).answers["return_date"] == date


def test_no_date_moves_on_to_the_zone() -> None:
    t = play(FLOW, keys(HAPPY, return_date=["", "1507#", ""]))
    assert t.answers == {k: v for k, v in HAPPY_ANSWERS.items() if k != "return_date"}
    assert fired(t) == [] and t.end_reason == "completed"


def test_a_return_date_in_last_year() -> None:
    t = play(FLOW, keys(HAPPY, return_date="2812#"), fields=sample_fields(dt.date(2022, 1, 5)))
    assert t.answers["return_date"] == "2021-12-28"
    assert fired(t) == [] and t.end_reason == "completed"
