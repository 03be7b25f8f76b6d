"""Golden tests of ivr_flows/hotline.yaml, the inbound line citizens dial.

Transcripts live in golden/hotline/; UPDATE_GOLDEN=1 rewrites them (see golden.py).
An inbound caller is unknown: the host only knows today and the caller's number.
"""

from __future__ import annotations

import pytest
from golden import FIELDS, TODAY, check_golden, fired, keys, load, play, said

from robocall.flows.engine import contact_fields
from robocall.flows.templates import CONTACT_FIELDS, fields_in

FLOW = load("hotline")
CALLER = contact_fields(today=TODAY, phone="+84905111222")

# Menu 1 (health declaration) with no symptoms.
HAPPY = {
    "menu_choice": "1",
    "fever": "2",
    "cough": "2",
    "sore_throat": "2",
    "shortness_of_breath": "2",
    "loss_of_taste_smell": "2",
    "temperature": "365#",
}
HAPPY_ANSWERS = {
    "menu_choice": "health",
    "fever": False,
    "cough": False,
    "sore_throat": False,
    "shortness_of_breath": False,
    "loss_of_taste_smell": False,
    "temperature": 36.5,
}
WELCOME = "🤖 Xin chào, quý vị đã gọi đến tổng đài phòng chống dịch COVID-19 của Trung tâm Kiểm soát bệnh tật tỉnh."
MENU = (
    "🤖 Để khai báo y tế, xin bấm phím 1. Để báo ca nghi nhiễm hoặc người từ vùng có dịch trở về, bấm phím 2. "
    "Để nghe hướng dẫn phòng dịch mới nhất, bấm phím 3. Để đề nghị cán bộ y tế gọi lại, bấm phím 0. "
    "Để nghe lại, bấm phím 9."
)
THANKS = (
    "🤖 Cảm ơn quý vị đã khai báo y tế. Xin tiếp tục thực hiện thông điệp 5K và theo dõi sức khỏe hằng ngày. "
    "Chúc quý vị và gia đình nhiều sức khỏe. Xin chào."
)
WILL_CALL_BACK = "🤖 Cảm ơn quý vị đã khai báo. Cán bộ y tế sẽ gọi lại cho quý vị theo số điện thoại này"
REPORT_THANKS = "🤖 Cảm ơn quý vị đã báo tin. Thông tin đã được ghi nhận."
GOODBYE_NO_CHOICE = (
    "🤖 Chúng tôi chưa nhận được lựa chọn của quý vị. Quý vị có thể gọi lại tổng đài bất cứ lúc nào. "
    "Nếu cần cấp cứu, xin gọi số 115. Xin chào."
)
GUIDANCE_START = "🤖 Bộ Y tế khuyến cáo người dân thực hiện thông điệp 5K."


def call(script: list[str], language: str | None = None):
    return play(FLOW, script, language=language, fields=CALLER)


# --- the happy path: a health declaration without symptoms --------------------------------------


def test_happy_path_transcript() -> None:
    t = call(keys(HAPPY))
    check_golden(t, "happy_path")
    assert t.answers == HAPPY_ANSWERS
    assert fired(t) == [] and t.sms == []
    assert t.end_reason == "completed"
    assert said(t)[:2] == [WELCOME, MENU]
    assert said(t)[-2:] == [THANKS, "🤖 (hangs up: completed)"]


def test_happy_path_in_english() -> None:
    t = call(keys(HAPPY), language="en")
    check_golden(t, "happy_path_en")
    assert t.answers == HAPPY_ANSWERS
    assert fired(t) == [] and t.end_reason == "completed"
    assert said(t)[0] == "🤖 Hello, you have reached the COVID-19 hotline of the provincial Centre for Disease Control."


def test_no_contact_field_is_spoken() -> None:
    """The caller is unknown: even if a host passed a traced contact's fields, nothing of them is said."""
    used = set()
    for node in FLOW.spec.nodes.values():
        for text in [node.say, node.no_input, node.invalid]:
            for value in (text or {}).values():
                used |= fields_in(value)
    for rule in FLOW.spec.escalations:
        for text in [rule.reason, rule.sms]:
            for value in (text or {}).values():
                used |= fields_in(value)
    assert used & CONTACT_FIELDS == set()
    for script in (keys(HAPPY), ["2", "1"], ["3", "0"], []):
        assert play(FLOW, script, fields=FIELDS).lines == call(script).lines


# --- the menu --------------------------------------------------------------------------------------


def test_guidance_then_back_to_the_menu() -> None:
    t = call(["3", "0"])
    check_golden(t, "guidance_then_callback")
    assert said(t)[:4] == [WELCOME, MENU, said(t)[2], MENU]
    assert said(t)[2].startswith(GUIDANCE_START)
    for k in ("khẩu trang", "khử khuẩn", "khoảng cách", "không tụ tập", "khai báo y tế"):
        assert k in said(t)[2].lower()
    assert t.answers == {"menu_choice": "callback"}
    assert fired(t) == [("de_nghi_goi_lai", "callback")]


def test_nine_repeats_the_menu() -> None:
    t = call(["9"] + keys(HAPPY))
    assert said(t)[:3] == [WELCOME, MENU, MENU]
    assert t.answers == HAPPY_ANSWERS and fired(t) == []


def test_pressing_nine_forever_hits_the_step_limit() -> None:
    t = call(["9"] * 500)
    assert t.end_reason == "step_limit"
    assert t.steps == FLOW.spec.defaults.max_steps + 1
    assert t.answers == {"menu_choice": "repeat"} and fired(t) == []


# --- escalation levels: urgent, watch, report, callback --------------------------------------------


@pytest.mark.parametrize("pressed", [
    {"shortness_of_breath": "1"},
    {"temperature": "385#"},
    {"fever": "1", "cough": "1"},
], ids=["short_of_breath", "temperature_38_5", "fever_with_cough"])
def test_urgent(pressed: dict[str, str]) -> None:
    t = call(keys(HAPPY, **pressed))
    assert fired(t) == [("trieu_chung_nang", "urgent")]
    assert t.escalations[0]["notify_cdc"] is True
    assert [s["text"] for s in t.sms] == [
        "TTKSBT đã nhận khai báo y tế của quý vị. Cán bộ y tế sẽ liên hệ ngay. Nếu khó thở, gọi 115.",
    ]
    assert said(t)[-2].startswith(WILL_CALL_BACK) and t.end_reason == "completed"


def test_urgent_in_english_texts_in_english_and_reports_in_vietnamese() -> None:
    t = call(keys(HAPPY, shortness_of_breath="1"), language="en")
    assert t.escalations[0]["reason"].startswith("Khó thở, sốt từ 38 độ trở lên")
    assert [(s["language"], s["text"]) for s in t.sms] == [(
        "en", "The CDC has received your health declaration. A health worker will call you soon. "
              "If breathing is hard, call 115.",
    )]


@pytest.mark.parametrize("symptom", ["fever", "cough", "sore_throat", "loss_of_taste_smell"])
def test_one_mild_symptom_is_watch(symptom: str) -> None:
    t = call(keys(HAPPY, **{symptom: "1"}))
    assert fired(t) == [("co_trieu_chung", "watch")]
    assert t.sms == []
    assert said(t)[-2].startswith(WILL_CALL_BACK)


def test_report_a_suspected_case() -> None:
    t = call(["2", "1"])
    check_golden(t, "report_suspected_case")
    assert t.answers == {"menu_choice": "report", "report_kind": "suspected_case"}
    assert fired(t) == [("bao_ca_nghi_nhiem", "report")]
    assert t.escalations[0]["notify_cdc"] is True and t.escalations[0]["callback"] is True
    assert said(t)[-2].startswith(REPORT_THANKS) and t.end_reason == "completed"


def test_report_someone_back_from_an_outbreak_zone() -> None:
    t = call(["2", "2"])
    assert t.answers == {"menu_choice": "report", "report_kind": "arrival_from_zone"}
    assert fired(t) == [("bao_nguoi_ve", "report")]
    assert t.escalations[0]["notify_cdc"] is True and t.escalations[0]["callback"] is True
    assert said(t)[-2].startswith(REPORT_THANKS) and t.end_reason == "completed"


def test_callback_request() -> None:
    t = call(["0"])
    assert t.answers == {"menu_choice": "callback"}
    assert fired(t) == [("de_nghi_goi_lai", "callback")]
    assert t.escalations[0]["callback"] is True and t.escalations[0]["notify_cdc"] is False
    assert said(t)[-2].startswith("🤖 Chúng tôi đã ghi nhận đề nghị của quý vị.") and t.end_reason == "completed"


# --- silence, wrong keys, giving up, hanging up -------------------------------------------------


def test_silence_at_the_menu_then_a_choice() -> None:
    t = call(keys(HAPPY, menu_choice=["", "1"]))
    assert t.answers == HAPPY_ANSWERS
    assert fired(t) == [] and t.end_reason == "completed"
    assert t.lines.count("🤖 (silence) Xin lỗi, chúng tôi chưa nhận được phím bấm của quý vị.") == 1
    assert said(t)[:4] == [WELCOME, MENU, "🤖 (silence) Xin lỗi, chúng tôi chưa nhận được phím bấm của quý vị.", MENU]


def test_wrong_key_at_the_menu_then_a_choice() -> None:
    t = call(keys(HAPPY, menu_choice=["5", "1"]))
    assert t.answers == HAPPY_ANSWERS
    assert fired(t) == [] and t.end_reason == "completed"
    assert said(t)[2] == "🤖 (wrong key) Xin lỗi, lựa chọn quý vị vừa bấm không có trong danh sách."


def test_wrong_key_in_the_declaration_then_an_answer() -> None:
    t = call(keys(HAPPY, cough=["3", "2"]))
    assert t.answers == HAPPY_ANSWERS
    assert t.lines.count("🤖 (wrong key) Xin lỗi, phím quý vị vừa bấm không đúng.") == 1


def test_silence_until_the_call_gives_up() -> None:
    t = call([])
    check_golden(t, "gave_up")
    assert t.answers == {}
    assert fired(t) == [] and t.end_reason == "gave_up"
    assert said(t) == [WELCOME, MENU,
                       "🤖 (silence) Xin lỗi, chúng tôi chưa nhận được phím bấm của quý vị.", MENU,
                       "🤖 (silence) Xin lỗi, chúng tôi chưa nhận được phím bấm của quý vị.", MENU,
                       GOODBYE_NO_CHOICE, "🤖 (hangs up: gave_up)"]


def test_wrong_keys_until_the_call_gives_up() -> None:
    t = call(["7", "8", "*"])
    assert t.answers == {} and fired(t) == [] and t.end_reason == "gave_up"
    assert said(t)[-2] == GOODBYE_NO_CHOICE


def test_giving_up_on_the_report_still_calls_back() -> None:
    t = call(["2"])
    assert t.answers == {"menu_choice": "report"}
    assert fired(t) == [("bao_tin_chua_xong", "report")]
    assert t.escalations[0]["callback"] is True
    assert said(t)[-2].startswith(REPORT_THANKS) and t.end_reason == "gave_up"


def test_giving_up_midway_through_the_declaration_keeps_the_answers() -> None:
    t = call(["1", "2", "1"])  # a cough, then nothing more
    assert t.answers == {"menu_choice": "health", "fever": False, "cough": True}
    assert fired(t) == [("co_trieu_chung", "watch")]
    assert said(t)[-2] == GOODBYE_NO_CHOICE and t.end_reason == "gave_up"


def test_hangup_in_the_middle_of_the_declaration() -> None:
    t = call(["1", "1", "1", "hangup"])
    assert t.answers == {"menu_choice": "health", "fever": True, "cough": True}
    assert fired(t) == [("trieu_chung_nang", "urgent")]
    assert len(t.sms) == 1
    assert t.end_reason == "caller_hangup"
    assert not any(line.startswith("🤖 (hangs up") for line in t.lines)
    assert said(t)[-1] == "🤖 Quý vị có bị đau họng không?"


def test_hangup_before_saying_what_is_reported_still_calls_back() -> None:
    t = call(["2", "hangup"])
    assert t.answers == {"menu_choice": "report"}
    assert fired(t) == [("bao_tin_chua_xong", "report")]
    assert t.end_reason == "caller_hangup"


def test_hangup_at_the_menu_escalates_nothing() -> None:
    t = call(["hangup"])
    assert t.answers == {} and fired(t) == [] and t.end_reason == "caller_hangup"


# --- the temperature ---------------------------------------------------------------------------


@pytest.mark.parametrize("wrong", ["335#", "431#", "36#", "#"], ids=["too_low", "too_high", "two_digits", "only_hash"])
def test_invalid_temperature_then_a_valid_one(wrong: str) -> None:
    t = call(keys(HAPPY, temperature=[wrong, "365#"]))
    assert t.answers == HAPPY_ANSWERS
    assert fired(t) == [] and t.end_reason == "completed"
    assert t.lines.count(
        "🤖 (wrong key) Xin lỗi, nhiệt độ vừa nhập không hợp lệ. Nhiệt độ phải từ 34 đến 43 độ.") == 1


def test_no_temperature_still_judges_the_other_answers() -> None:
    t = call(keys(HAPPY, sore_throat="1", temperature=["", "", ""]))
    assert t.answers == {k: v for k, v in {**HAPPY_ANSWERS, "sore_throat": True}.items() if k != "temperature"}
    assert fired(t) == [("co_trieu_chung", "watch")]
    assert said(t)[-2].startswith(WILL_CALL_BACK)
    # The engine calls this `gave_up`: the call ended on the event that used up the temperature's retries.
    assert t.end_reason == "gave_up"
