"""The voice webhooks: signatures, replays, duplicates, restarts, hang-ups, the hotline."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from typing import Any

from sqlmodel import Session as DbSession
from sqlmodel import select
from voicehelp import OurServer, VoiceWorld

from robocall.conversations.resumable import ResumableCalls
from robocall.flows.catalog import flow_catalog
from robocall.models import Answer, CallAttempt, CallState, Escalation
from simulator.carriers import free_port
from simulator.population import Resident

PERFECT = Resident(
    phone="+84900000001", key=1, answer_rate=1.0, morning=1.0, midday=1.0, evening=1.0,
    busy_rate=0.0, machine_rate=0.0, fail_rate=0.0, hangup_midcall_rate=0.0, silence_rate=0.0,
    wrong_key_rate=0.0, relative_answers_rate=0.0, needs_help_rate=0.0, away_rate=0.0,
)
SID = "CA" + "a" * 32


def dialled(voice: VoiceWorld, phone: str) -> int:
    """An outbound call Twilio has taken (what place_call leaves behind)."""
    voice.contact(phone)
    attempt_id = voice.attempt(phone)
    calls = ResumableCalls(voice.engine, flow_catalog(voice.settings).flows, voice.settings.tzinfo)
    assert calls.dialling(attempt_id, SID, dt.datetime.now(dt.UTC))
    return attempt_id


def params(status: str = "in-progress", **extra: str) -> dict[str, str]:
    return {"CallSid": SID, "AccountSid": "AC" + "0" * 31 + "2", "From": "+842873000000", "To": "+84911000100",
            "CallStatus": status, "ApiVersion": "2010-04-01", **extra}


def live(voice: VoiceWorld, attempt_id: int) -> dict[str, Any]:
    session = voice.attempt_row(attempt_id).session
    assert session is not None
    return dict(session.get("live", {}))


def test_forged_missing_and_replayed_signatures_are_refused_and_change_nothing(voice: VoiceWorld) -> None:
    attempt_id = dialled(voice, "+84911000100")
    answer_url = voice.url(f"/{attempt_id}/answer")
    assert voice.peer.post(answer_url, params(), signature="").status == 403  # missing
    assert voice.peer.post(answer_url, params(), signature="bm90IGEgc2lnbmF0dXJl").status == 403  # forged
    assert voice.attempt_row(attempt_id).state == CallState.DIALLING  # nothing changed
    assert voice.peer.post(answer_url, params()).status == 200
    before = live(voice, attempt_id)
    gather_url = voice.url(f"/{attempt_id}/gather/1?flow=f1_f2_followup&node={before['session']['node']}")
    # A signature Twilio made for one request, replayed with other keys or on another URL.
    signed = voice.peer.signature(gather_url, params(Digits="1"))
    assert voice.peer.post(gather_url, params(Digits="2"), signature=signed).status == 403
    assert voice.peer.post(voice.url(f"/{attempt_id}/status"), params("completed"), signature=signed).status == 403
    assert live(voice, attempt_id) == before
    assert voice.attempt_row(attempt_id).state == CallState.ANSWERED


def test_a_replayed_gather_is_answered_again_without_running_the_engine_again(voice: VoiceWorld) -> None:
    attempt_id = dialled(voice, "+84911000101")
    voice.peer.post(voice.url(f"/{attempt_id}/answer"), params())
    node = live(voice, attempt_id)["session"]["node"]
    gather_url = voice.url(f"/{attempt_id}/gather/1?flow=f1_f2_followup&node={node}")
    first = voice.peer.post(gather_url, params(Digits="1"))
    after_first = live(voice, attempt_id)
    again = voice.peer.post(gather_url, params(Digits="1"))  # Twilio retrying, or an attacker replaying
    assert first.status == again.status == 200 and first.body == again.body
    assert live(voice, attempt_id) == after_first
    assert after_first["turn"] == 2
    # A late Redirect for the turn already answered changes nothing either.
    late = voice.peer.post(voice.url(f"/{attempt_id}/silence/1?flow=f1_f2_followup&node={node}"), params())
    assert late.body == first.body and live(voice, attempt_id) == after_first


def test_concurrent_duplicate_gathers_run_the_engine_once(voice: VoiceWorld) -> None:
    attempt_id = dialled(voice, "+84911000102")
    voice.peer.post(voice.url(f"/{attempt_id}/answer"), params())
    node = live(voice, attempt_id)["session"]["node"]
    gather_url = voice.url(f"/{attempt_id}/gather/1?flow=f1_f2_followup&node={node}")
    bodies: list[str] = []
    start = threading.Barrier(8)

    def post() -> None:
        start.wait()
        bodies.append(voice.peer.post(gather_url, params(Digits="1")).body)

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(bodies) == 8 and len(set(bodies)) == 1  # every duplicate got the same next question
    state = live(voice, attempt_id)
    assert state["turn"] == 2
    assert state["session"]["steps"] == live_steps_after_one_answer(voice)


def live_steps_after_one_answer(voice: VoiceWorld) -> int:
    """The engine's step count after the greeting and one answer, on a call of its own."""
    attempt_id = dialled_other(voice)
    voice.peer.post(voice.url(f"/{attempt_id}/answer"), params())
    node = live(voice, attempt_id)["session"]["node"]
    voice.peer.post(voice.url(f"/{attempt_id}/gather/1?flow=f1_f2_followup&node={node}"), params(Digits="1"))
    return int(live(voice, attempt_id)["session"]["steps"])


def dialled_other(voice: VoiceWorld) -> int:
    phone = "+84911000199"
    voice.contact(phone)
    attempt_id = voice.attempt(phone)
    calls = ResumableCalls(voice.engine, flow_catalog(voice.settings).flows, voice.settings.tzinfo)
    calls.dialling(attempt_id, "CA" + "b" * 32, dt.datetime.now(dt.UTC))
    return attempt_id


def test_a_call_goes_on_after_the_server_restarts_mid_call(voice: VoiceWorld) -> None:
    attempt_id = dialled(voice, "+84911000103")
    voice.peer.post(voice.url(f"/{attempt_id}/answer"), params())
    node = live(voice, attempt_id)["session"]["node"]
    server: OurServer = voice.server  # type: ignore[attr-defined]
    server.stop()
    assert voice.peer.post(voice.url(f"/{attempt_id}/gather/1?node={node}"), params(Digits="1")).status == 0
    server.start()  # a new app instance: nothing of the call in memory
    answered = voice.peer.post(voice.url(f"/{attempt_id}/gather/1?flow=f1_f2_followup&node={node}"),
                               params(Digits="1"))
    assert answered.status == 200 and "<Gather" in answered.body
    state = live(voice, attempt_id)
    assert state["turn"] == 2 and state["session"]["node"] != node
    assert node == "xac_nhan" and "right_person" in state["record"]["answers"]  # the answer waits with the session


def test_a_hang_up_mid_gather_is_closed_by_the_status_callback(voice: VoiceWorld) -> None:
    attempt_id = dialled(voice, "+84911000104")
    voice.peer.post(voice.url(f"/{attempt_id}/answer"), params())
    node = live(voice, attempt_id)["session"]["node"]
    voice.peer.post(voice.url(f"/{attempt_id}/gather/1?flow=f1_f2_followup&node={node}"), params(Digits="1"))
    # The caller hangs up while the next question plays: no action, only the final status.
    assert voice.peer.post(voice.url(f"/{attempt_id}/status"),
                           params("completed", CallDuration="21")).status == 204
    attempt = voice.attempt_row(attempt_id)
    assert attempt.state == CallState.COMPLETED and attempt.end_reason == "caller_hangup"
    with DbSession(voice.engine) as db:
        assert db.exec(select(Answer).where(Answer.attempt_id == attempt_id)).all()  # the answer given is kept
    # A late gather for the closed call hangs up and changes nothing.
    late = voice.peer.post(voice.url(f"/{attempt_id}/gather/2?flow=f1_f2_followup&node=x"), params(Digits="1"))
    assert "<Hangup" in late.body and voice.attempt_row(attempt_id).end_reason == "caller_hangup"


def test_behind_a_reverse_proxy_the_public_url_is_what_is_checked(voice: VoiceWorld) -> None:
    port = free_port()
    public = "https://cdc.example.vn"
    server = OurServer(voice.settings.model_copy(update={"public_base_url": public}), port)
    try:
        attempt_id = dialled(voice, "+84911000105")
        voice.peer.via = (public, f"http://127.0.0.1:{port}")
        answered = voice.peer.post(f"{public}/twilio/voice/{attempt_id}/answer", params())
        assert answered.status == 200 and f"{public}/twilio/voice/{attempt_id}/gather/1" in answered.body
        # Signed over the local URL (what the server sees behind the proxy): refused.
        voice.peer.via = None
        local = f"http://127.0.0.1:{port}/twilio/voice/{attempt_id}/status"
        assert voice.peer.post(local, params("completed")).status == 403
    finally:
        server.close()


def test_the_hotline_number_runs_the_hotline_flow(voice: VoiceWorld) -> None:
    phone = "+84911000106"
    voice.peer.network.population = {phone: dataclasses.replace(PERFECT, phone=phone)}
    voice.peer.ring_hotline(phone, voice.url("/inbound"), voice.url("/inbound/status"))
    voice.peer.wait()
    with DbSession(voice.engine) as db:
        attempt = db.exec(select(CallAttempt).where(CallAttempt.phone == phone)).one()
        assert attempt.direction == "inbound" and attempt.flow == "hotline"
        assert attempt.state == CallState.COMPLETED and attempt.answered_at is not None
        assert db.exec(select(Answer).where(Answer.attempt_id == attempt.id)).all()


def test_a_missed_hotline_call_becomes_a_callback_case(voice: VoiceWorld) -> None:
    phone = "+84911000107"
    voice.peer.ring_hotline(phone, voice.url("/inbound"), voice.url("/inbound/status"), missed=True)
    voice.peer.wait()
    with DbSession(voice.engine) as db:
        attempt = db.exec(select(CallAttempt).where(CallAttempt.phone == phone)).one()
        assert attempt.direction == "inbound" and attempt.state == CallState.NO_ANSWER
        case = db.exec(select(Escalation).where(Escalation.attempt_id == attempt.id)).one()
        assert case.callback and case.level == "callback"


def test_a_hotline_caller_already_on_a_call_is_refused_busy_with_a_callback(voice: VoiceWorld) -> None:
    phone = "+84911000108"
    attempt_id = dialled(voice, phone)  # we are calling them right now
    answer = voice.peer.post(voice.url("/inbound"), params("ringing", From=phone, To="+842436000000",
                                                          CallSid="CA" + "c" * 32))
    assert answer.status == 200 and "<Reject" in answer.body
    with DbSession(voice.engine) as db:
        busy = db.exec(select(CallAttempt).where(CallAttempt.phone == phone, CallAttempt.id != attempt_id)).one()
        assert busy.state == CallState.BUSY
        assert db.exec(select(Escalation).where(Escalation.attempt_id == busy.id)).one().callback


def test_a_call_completed_before_the_flow_started_is_a_failure_not_a_reach(voice: VoiceWorld) -> None:
    attempt_id = dialled(voice, "+84911000109")
    # Twilio could not fetch our voice URL (server down): it says sorry, hangs up, and reports completed.
    assert voice.peer.post(voice.url(f"/{attempt_id}/status"), params("completed", CallDuration="3")).status == 204
    attempt = voice.attempt_row(attempt_id)
    assert attempt.state == CallState.FAILED and attempt.answered_at is None
    assert attempt.end_reason == "answered, but the flow never started"


def test_a_webhook_for_an_unknown_call_is_404_not_500(voice: VoiceWorld) -> None:
    assert voice.peer.post(voice.url("/999999/answer"), params()).status == 404
    assert voice.peer.post(voice.url("/abc/answer"), params()).status == 404
