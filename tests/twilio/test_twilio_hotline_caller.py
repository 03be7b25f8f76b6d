"""The Twilio hotline and the Asterisk one share robocall/conversations/hotline.py: an unknown caller
becomes a contact of category `other`, named after the hotline number dialled."""

from __future__ import annotations

import dataclasses

from sqlmodel import Session as DbSession
from sqlmodel import select
from voicehelp import VoiceWorld

from robocall.models import CallAttempt, CallState, Contact, Escalation
from simulator.population import Resident
from simulator.twilio_voice import HOTLINE_NUMBER

PERFECT = Resident(
    phone="+84900000001", key=1, answer_rate=1.0, morning=1.0, midday=1.0, evening=1.0,
    busy_rate=0.0, machine_rate=0.0, fail_rate=0.0, hangup_midcall_rate=0.0, silence_rate=0.0,
    wrong_key_rate=0.0, relative_answers_rate=0.0, needs_help_rate=0.0, away_rate=0.0,
)


def test_an_unknown_caller_becomes_a_contact_of_category_other(voice: VoiceWorld) -> None:
    phone = "+84911000301"
    voice.peer.network.population = {phone: dataclasses.replace(PERFECT, phone=phone)}
    voice.peer.ring_hotline(phone, voice.url("/inbound"), voice.url("/inbound/status"))
    voice.peer.wait()
    with DbSession(voice.engine) as db:
        contact = db.exec(select(Contact).where(Contact.phone == phone)).one()
        attempt = db.exec(select(CallAttempt).where(CallAttempt.phone == phone)).one()
    assert (contact.category, contact.source_list) == ("other", f"hotline {HOTLINE_NUMBER}")
    assert (attempt.contact_id, attempt.state) == (contact.id, CallState.COMPLETED)


def test_a_missed_call_from_an_unknown_number_is_a_callback_case_about_that_person(voice: VoiceWorld) -> None:
    phone = "+84911000302"
    voice.peer.ring_hotline(phone, voice.url("/inbound"), voice.url("/inbound/status"), missed=True)
    voice.peer.wait()
    with DbSession(voice.engine) as db:
        contact = db.exec(select(Contact).where(Contact.phone == phone)).one()
        case = db.exec(select(Escalation)).one()
    assert (case.rule, case.level, case.contact_id) == ("missed_hotline_call", "callback", contact.id)


def test_a_withheld_caller_id_stays_anonymous(voice: VoiceWorld) -> None:
    answer = voice.peer.post(voice.url("/inbound"), {
        "CallSid": "CA" + "d" * 32, "AccountSid": voice.peer.account_sid, "From": "anonymous", "To": HOTLINE_NUMBER,
        "CallStatus": "ringing", "ApiVersion": "2010-04-01", "Direction": "inbound"})
    assert answer.status == 200 and "<Gather" in answer.body  # the flow runs for them all the same
    with DbSession(voice.engine) as db:
        assert db.exec(select(Contact)).all() == []
        attempt = db.exec(select(CallAttempt)).one()
    assert (attempt.phone, attempt.contact_id) == ("anonymous", None)
