"""Calls through the local Twilio peer: the backend places them, Twilio's webhook client carries them."""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlmodel import Session as DbSession
from sqlmodel import select
from voicehelp import VoiceWorld

from robocall.models import Answer, CallState, Escalation
from robocall.telephony.base import CallRequest
from robocall.telephony.twilio.reconcile import NO_CALL_ID, reconcile
from simulator.population import Resident

PERFECT = Resident(
    phone="+84900000001", key=1, answer_rate=1.0, morning=1.0, midday=1.0, evening=1.0,
    busy_rate=0.0, machine_rate=0.0, fail_rate=0.0, hangup_midcall_rate=0.0, silence_rate=0.0,
    wrong_key_rate=0.0, relative_answers_rate=0.0, needs_help_rate=0.0, away_rate=0.0,
)


def answers(world: VoiceWorld, attempt_id: int) -> dict[str, object]:
    with DbSession(world.engine) as db:
        return {a.question: a.value for a in db.exec(select(Answer).where(Answer.attempt_id == attempt_id))}


def test_an_answered_call_runs_the_flow_over_webhooks_and_is_written_whole(voice: VoiceWorld) -> None:
    phone = "+84911000001"
    voice.peer.network.population = {phone: dataclasses.replace(PERFECT, phone=phone)}
    voice.contact(phone)
    attempt_id = voice.call(phone)
    attempt = voice.attempt_row(attempt_id)
    assert attempt.state == CallState.COMPLETED
    assert attempt.backend == "twilio" and attempt.backend_call_id.startswith("CA")
    assert attempt.answered_at is not None and attempt.end_reason == "completed"
    assert attempt.session is not None and "live" not in attempt.session  # the finished session, as for every call
    assert answers(voice, attempt_id)  # the resident answered the questions
    created = voice.peer.created[-1]["params"]
    assert created["Url"].endswith(f"/twilio/voice/{attempt_id}/answer")
    assert created["StatusCallback"].endswith(f"/twilio/voice/{attempt_id}/status")
    assert created["MachineDetection"] == "DetectMessageEnd" and created["AsyncAmd"] == "true"
    statuses = voice.peer.statuses()
    assert statuses["initiated"] == statuses["ringing"] == statuses["completed"] == 1
    assert all(p.status in (200, 204) for p in voice.peer.posted)


def test_a_machine_is_hung_up_on_and_recorded_as_machine(voice: VoiceWorld) -> None:
    phone = "+84911000002"
    voice.peer.network.population = {phone: dataclasses.replace(PERFECT, phone=phone, answer_rate=0.0,
                                                                 morning=0.0, midday=0.0, evening=0.0,
                                                                 machine_rate=1.0)}
    voice.contact(phone)
    attempt_id = voice.call(phone)
    attempt = voice.attempt_row(attempt_id)
    assert attempt.state == CallState.MACHINE
    assert attempt.answered_at is None and attempt.session is None
    assert answers(voice, attempt_id) == {}
    assert voice.peer.created[-1]["sid"] in voice.peer.hung_up  # our server ended the call through the API


def test_busy_and_no_answer_close_the_attempt_with_the_line_state(voice: VoiceWorld) -> None:
    busy, away = "+84911000003", "+84911000004"
    voice.peer.network.population = {
        busy: dataclasses.replace(PERFECT, phone=busy, busy_rate=1.0),
        away: dataclasses.replace(PERFECT, phone=away, answer_rate=0.0, morning=0.0, midday=0.0, evening=0.0),
    }
    voice.contact(busy)
    voice.contact(away)
    assert voice.attempt_row(voice.call(busy)).state == CallState.BUSY
    assert voice.attempt_row(voice.call(away)).state == CallState.NO_ANSWER


def test_duplicate_and_late_status_callbacks_change_nothing(voice: VoiceWorld) -> None:
    phone = "+84911000005"
    voice.peer.network.population = {phone: dataclasses.replace(PERFECT, phone=phone, needs_help_rate=1.0)}
    voice.peer.duplicate_final = voice.peer.late_ringing = True
    voice.contact(phone)
    attempt_id = voice.call(phone)
    attempt = voice.attempt_row(attempt_id)
    assert attempt.state == CallState.COMPLETED
    assert voice.peer.statuses()["completed"] == 2
    with DbSession(voice.engine) as db:
        cases = db.exec(select(Escalation).where(Escalation.attempt_id == attempt_id)).all()
    first = answers(voice, attempt_id)
    assert first
    assert len({(c.rule, c.attempt_id) for c in cases}) == len(cases)  # each rule written once


def test_a_call_whose_final_callback_never_came_is_closed_from_twilios_record(voice: VoiceWorld) -> None:
    phone = "+84911000006"
    voice.peer.network.population = {phone: dataclasses.replace(PERFECT, phone=phone)}
    voice.peer.drop_final = True
    voice.contact(phone)
    attempt_id = voice.call(phone)
    assert voice.attempt_row(attempt_id).state == CallState.ANSWERED  # left open: it holds a channel
    calls = voice.backend.calls
    assert reconcile(voice.settings, calls, dt.timedelta(minutes=30)) == 0  # too recent to ask about
    assert reconcile(voice.settings, calls, dt.timedelta(0)) == 1
    attempt = voice.attempt_row(attempt_id)
    assert attempt.state == CallState.COMPLETED and attempt.end_reason == "completed"
    assert answers(voice, attempt_id)
    assert reconcile(voice.settings, calls, dt.timedelta(0)) == 0


def test_a_call_handed_out_again_is_never_placed_twice(voice: VoiceWorld) -> None:
    """The attempt is marked dialling before Twilio is asked: a second run of its job (handed out again
    after its lease ran out, robocall/campaigns/recovery.py) asks Twilio nothing."""
    phone = "+84911000007"
    voice.peer.network.population = {phone: dataclasses.replace(PERFECT, phone=phone)}
    voice.contact(phone)
    attempt_id = voice.call(phone)
    made = len(voice.peer.created)
    voice.backend.place_call(CallRequest(attempt_id, phone, "+842873000000", dt.datetime.now(dt.UTC), "f1_f2_followup"))
    assert len(voice.peer.created) == made == 1


def test_a_call_whose_worker_died_before_twilio_answered_is_closed_by_reconcile(voice: VoiceWorld) -> None:
    """Marked dialling, then the worker died before Twilio gave a call id: nothing carries the call."""
    phone = "+84911000008"
    voice.contact(phone)
    attempt_id = voice.attempt(phone)
    calls = voice.backend.calls
    assert calls.start_dialling(attempt_id, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    assert not calls.start_dialling(attempt_id, dt.datetime.now(dt.UTC))  # once
    assert reconcile(voice.settings, calls, dt.timedelta(0)) == 1
    attempt = voice.attempt_row(attempt_id)
    assert (attempt.state, attempt.end_reason) == (CallState.FAILED, NO_CALL_ID)
    assert voice.peer.created == []
