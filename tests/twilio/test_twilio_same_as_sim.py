"""A campaign of 60 contacts through Twilio gives the same calls as the simulator for the same residents."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from sqlmodel import select
from voicehelp import AFTERNOON, PROFILE, SEED, VoiceWorld, exposure_reader, queue_attempt

from robocall.campaigns.jobs import follow_up_mover
from robocall.conversations.calls import RecordedCalls
from robocall.db import make_engine
from robocall.flows.catalog import flow_catalog
from robocall.migrate import upgrade
from robocall.models import Answer, CallAttempt, Contact, Escalation
from robocall.telephony.base import CallRequest
from simulator.backend import SimulatedBackend
from simulator.network import SimPhoneNetwork

CONTACTS = 60


def people() -> list[tuple[str, str, str, dt.date]]:
    """(phone, category, flow, exposure date)"""
    found = []
    for i in range(CONTACTS):
        category = ["F1", "F2", "returnee"][i % 3]
        flow = "returnee_check" if category == "returnee" else "f1_f2_followup"
        found.append((f"+8491{i:07d}", category, flow, dt.date(2021, 8, 3) + dt.timedelta(days=i % 10)))
    return found


def add_contacts(engine: Engine) -> None:
    with DbSession(engine) as db:
        for phone, category, _flow, exposure in people():
            db.add(Contact(phone=phone, name=f"Người thử {phone[-3:]}", category=category, exposure_date=exposure,
                           district="Thành phố Huế", commune="Phú Hội"))
        db.commit()


def outcomes(engine: Engine) -> dict[str, tuple[Any, ...]]:
    """By phone: line state, how the flow ended, the answers, the escalations."""
    with DbSession(engine) as db:
        found = {}
        for attempt in db.exec(select(CallAttempt)).all():
            # Values as Python compares them: JSON columns give 37 back as 37.0 on one database and 37 on another.
            answers = sorted((a.question, a.value) for a in db.exec(
                select(Answer).where(Answer.attempt_id == attempt.id)))
            cases = sorted((e.rule, e.level) for e in db.exec(
                select(Escalation).where(Escalation.attempt_id == attempt.id)))
            # A failed line: Twilio says why (its CallStatus, the SIP code), the simulator does not.
            reason = "failed" if attempt.state == "failed" else attempt.end_reason
            found[attempt.phone] = (str(attempt.state), reason, answers, cases)
        return found


def test_a_campaign_through_twilio_answers_and_escalates_as_the_simulator(voice: VoiceWorld, tmp_path: Path) -> None:
    flows = flow_catalog(voice.settings).flows
    at = {phone: AFTERNOON + dt.timedelta(minutes=3 * i) for i, (phone, *_rest) in enumerate(people())}

    # The simulator on its own database.
    sim_engine = make_engine(f"sqlite:///{tmp_path / 'sim.db'}")
    upgrade(sim_engine)
    add_contacts(sim_engine)
    network = SimPhoneNetwork({}, seed=SEED, flows=flows, timezone=voice.settings.timezone, profile=PROFILE)
    sim = SimulatedBackend(network, RecordedCalls(sim_engine, flows, voice.settings.tzinfo,
                                                  follow_up_mover(voice.settings)), flows, sim_engine)
    for phone, _category, flow, _exposure in people():
        attempt_id = queue_attempt(sim_engine, phone, flow)
        sim.place_call(CallRequest(attempt_id, phone, "+842873000000", at[phone], flow))

    # The same residents through Twilio and our webhooks.
    add_contacts(voice.engine)
    voice.peer.exposure = exposure_reader(voice.engine)
    voice.dial_times.update(at)
    for phone, _category, flow, _exposure in people():
        attempt_id = queue_attempt(voice.engine, phone, flow)
        voice.backend.place_call(CallRequest(attempt_id, phone, "+842873000000", at[phone], flow))
    voice.peer.wait()

    simulated, through_twilio = outcomes(sim_engine), outcomes(voice.engine)
    assert len(through_twilio) == CONTACTS
    differing = {phone: (simulated[phone], through_twilio[phone]) for phone in simulated
                 if simulated[phone] != through_twilio[phone]}
    assert differing == {}
    with DbSession(voice.engine) as db:
        failed = db.exec(select(CallAttempt.end_reason).where(CallAttempt.state == "failed")).all()
    assert all(reason.startswith("twilio failed") for reason in failed)
    states = {outcome[0] for outcome in simulated.values()}
    assert {"completed", "no_answer", "busy", "machine", "failed"} <= states  # every line outcome is in the mix
    assert any(outcome[3] for outcome in simulated.values())  # and some calls escalate
    sim_engine.dispose()
