"""Health declaration by SMS: KB asks the hotline's questions one SMS at a time, and what the person
answers reaches the CDC exactly as a hotline call does."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession

from robocall.config import get_settings
from robocall.conversations.sms_declaration import DeclarationRules, expire_dialogues
from robocall.models import CallAttempt, Contact, Escalation
from robocall.reports import provincial_report
from robocall.sms_models import SmsDialogue, SmsInbound, SmsMessage
from robocall.web.escalation_queries import (
    QueueFilters,
    escalation_calls,
    escalation_queue,
)
from simulator.carriers import wait_until
from sms.inbound import handle_inbound


def rules() -> DeclarationRules:
    """How declarations run with this test's settings (the SMS context builds the same at start-up)."""
    return DeclarationRules.from_settings(get_settings())


ROOT = Path(__file__).parents[2]
T0 = dt.datetime(2021, 8, 12, 2, 0, tzinfo=dt.UTC)  # 09:00 in Huế
MINUTE = dt.timedelta(minutes=1)
Declare = Callable[..., list[str]]


@pytest.fixture
def declare(configure: Callable[..., Any], migrated: Engine) -> Declare:
    """Send SMS from `phone`, one a minute from `at`; returns what handle_inbound did with each."""
    configure(FLOWS_DIR=str(ROOT / "ivr_flows"), AUDIO_DIR=str(ROOT / "audio"))

    def send(phone: str, *texts: str, at: dt.datetime = T0) -> list[str]:
        return [handle_inbound(migrated, rules(), "sim", phone, text, now=at + i * MINUTE) for i, text in enumerate(texts)]

    return send


def messages(engine: Engine, phone: str, purpose: str = "declaration") -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(select(SmsMessage.text).where(
            SmsMessage.phone == phone, SmsMessage.purpose == purpose).order_by(SmsMessage.id)).scalars())


def states(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return dict(connection.execute(select(SmsMessage.state, func.count()).group_by(SmsMessage.state)).all())


def escalations_of(engine: Engine, phone: str) -> list[tuple[str, str, dict[str, Any], CallAttempt]]:
    """(rule, level, answers, attempt) of each escalation, read as the dashboard reads them."""
    found = []
    with DbSession(engine) as db:
        page = escalation_queue(db, QueueFilters(status="all"), get_settings(), T0 + dt.timedelta(days=1))
        for row in page.rows:
            escalation = db.get(Escalation, row.id)
            assert escalation is not None
            contact = db.get(Contact, escalation.contact_id) if escalation.contact_id else None
            for day in escalation_calls(db, escalation, contact):
                for attempt, answers in day.attempts:
                    if attempt.phone == phone and attempt.id == escalation.attempt_id:
                        found.append((row.rule, row.level, {a.question: a.value for a in answers}, attempt))
    return found


def test_kb_asks_the_hotline_questions_by_sms_and_the_cdc_sees_the_escalation_with_the_answers(
        declare: Declare, start_workers: Callable[..., Any], migrated: Engine) -> None:
    start_workers(1)
    with DbSession(migrated) as db:
        db.add(Contact(phone="+84912345678", name="Trần Thị Bình", category="F1", district="Thành phố Huế"))
        db.commit()
    actions = declare("0912 345 678", "Kb", "1", "có", "2", "Không", "2", "38,5")
    assert actions == ["declaration_started"] + ["declaration_answer"] * 5 + ["declaration_completed"]

    replies = messages(migrated, "+84912345678")
    assert replies[0] == ("Chúng tôi xin hỏi một vài câu về sức khỏe của quý vị. Với mỗi câu, nếu có xin bấm phím 1, "
                          "nếu không xin bấm phím 2. Trong 24 giờ qua, quý vị có bị sốt không?")  # no phone menu
    assert replies[1:3] == ["Quý vị có bị ho không?", "Quý vị có bị đau họng không?"]
    assert replies[-1].startswith("Cảm ơn quý vị đã khai báo. Cán bộ y tế sẽ gọi lại cho quý vị") and len(replies) == 7
    assert messages(migrated, "+84912345678", "escalation") == [
        "TTKSBT đã nhận khai báo y tế của quý vị. Cán bộ y tế sẽ liên hệ ngay. Nếu khó thở, gọi 115."]

    [(rule, level, answers, attempt)] = escalations_of(migrated, "+84912345678")
    assert (rule, level) == ("trieu_chung_nang", "urgent")
    assert answers == {"menu_choice": "health", "fever": True, "cough": True, "sore_throat": False,
                       "shortness_of_breath": False, "loss_of_taste_smell": False, "temperature": 38.5}
    assert (attempt.channel, attempt.direction, attempt.flow, attempt.end_reason) == ("sms", "inbound", "hotline",
                                                                                      "completed")
    assert attempt.contact_id is not None

    # A real worker hands every reply and the flow's SMS to the simulated carrier, which delivers them.
    assert wait_until(lambda: states(migrated) == {"delivered": 8}, timeout=30), states(migrated)
    report = provincial_report(migrated, None, None, "Asia/Ho_Chi_Minh")
    assert (report.sms_declarations, report.inbound_hotline_calls, report.calls_answered) == (1, 0, 0)
    assert (report.sms_individual_sent, report.sms_sent) == (8, 0)


def test_a_reply_that_is_not_an_answer_gets_the_flows_own_retry(declare: Declare, migrated: Engine) -> None:
    phone = "+84987000001"  # not a contact: the escalation shows the dialogue that raised it
    declare(phone, "KB", "5", "Đúng", "2", "2", "2", "2", "30", "37.5")
    replies = messages(migrated, phone)
    assert replies[1] == "Xin lỗi, phím quý vị vừa bấm không đúng. Trong 24 giờ qua, quý vị có bị sốt không?"
    assert replies[2] == "Quý vị có bị ho không?"  # "Đúng" (right) is a yes, not a STOP
    assert replies[7].startswith("Xin lỗi, nhiệt độ vừa nhập không hợp lệ. Nhiệt độ phải từ 34 đến 43 độ.")
    [(rule, level, answers, attempt)] = escalations_of(migrated, phone)
    assert (rule, level, answers["fever"], answers["temperature"]) == ("co_trieu_chung", "watch", True, 37.5)
    assert attempt.contact_id is None and attempt.channel == "sms"


def test_kb_en_asks_in_english(declare: Declare, migrated: Engine) -> None:
    assert declare("+84987000002", "kb en", "no", "yes") == ["declaration_started", "declaration_answer",
                                                              "declaration_answer"]
    replies = messages(migrated, "+84987000002")
    assert replies[0].endswith("In the last 24 hours, have you had a fever?")
    assert replies[1:] == ["Do you have a cough?", "Do you have a sore throat?"]


def test_a_dialogue_nobody_answers_ends_as_a_hang_up_and_never_swallows_a_later_message(
        declare: Declare, migrated: Engine) -> None:
    quiet, back = "+84911000001", "+84911000002"
    declare(quiet, "KB", "1", "1")  # fever and cough, then nothing more
    declare(back, "KB", "1")  # fever, then nothing for two hours
    assert expire_dialogues(migrated, rules(), now=T0 + 30 * MINUTE) == 0  # SMS_DECLARATION_TIMEOUT_MINUTES=60
    assert expire_dialogues(migrated, rules(), now=T0 + 65 * MINUTE) == 2
    [(rule, _, answers, attempt)] = escalations_of(migrated, quiet)
    assert (rule, attempt.end_reason, answers["cough"]) == ("trieu_chung_nang", "caller_hangup", True)
    assert attempt.ended_at is not None and attempt.ended_at.replace(tzinfo=dt.UTC) == T0 + 62 * MINUTE
    assert len(messages(migrated, quiet, "escalation")) == 1  # the rule's SMS, as after a hung-up call

    # The next messages start afresh: a KB starts a new dialogue, and a STOP after that one expired opts out.
    assert declare(back, "KB", at=T0 + 3 * 60 * MINUTE) == ["declaration_started"]
    assert declare(back, "TU CHOI", at=T0 + 5 * 60 * MINUTE) == ["opt_out"]
    with migrated.connect() as connection:
        closed = connection.execute(select(SmsDialogue.phone, SmsDialogue.closed_by, SmsDialogue.status)
                                    .order_by(SmsDialogue.id)).all()
    assert [tuple(r) for r in closed] == [(quiet, "expired", "ended"), (back, "expired", "ended"),
                                          (back, "expired", "ended")]


def test_stop_during_a_dialogue_opts_out_and_ends_it(declare: Declare, migrated: Engine) -> None:
    phone = "+84911000003"
    assert declare(phone, "KB", "1", "Từ chối", "2") == ["declaration_started", "declaration_answer", "opt_out",
                                                         "none"]
    assert len(messages(migrated, phone)) == 2  # nothing after the STOP
    [(rule, _, answers, attempt)] = escalations_of(migrated, phone)
    assert (rule, answers["fever"], attempt.end_reason) == ("co_trieu_chung", True, "caller_hangup")
    assert declare(phone, "KB", at=T0 + 10 * MINUTE) == ["declaration_opted_out"]
    with migrated.connect() as connection:
        assert connection.execute(select(SmsDialogue.closed_by)).scalars().all() == ["opt_out"]
        assert connection.execute(select(func.count()).select_from(SmsInbound)).scalar() == 5  # every SMS kept
