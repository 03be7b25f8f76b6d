"""Placing calls: Twilio's refusals as outcomes with reasons, retries, and the account's calls per second."""

from __future__ import annotations

import threading
import time

import pytest
from redis import Redis
from sqlmodel import Session as DbSession
from sqlmodel import select
from voicehelp import AFTERNOON, DAY, VoiceWorld

from robocall.call_policy import policy_from_settings
from robocall.flows.vocabulary import Vocabulary
from robocall.models import PERMANENT_FAILURE, CallCampaign, CallState, FollowUp, FollowUpState, stored_utc
from robocall.reports import format_report, provincial_report
from robocall.telephony.base import CallRequest
from robocall.telephony.twilio.backend import TwilioVoiceBackend, pace_for


def place(voice: VoiceWorld, phone: str) -> int:
    voice.contact(phone)
    attempt_id = voice.attempt(phone)
    voice.backend.place_call(CallRequest(attempt_id, phone, "+842873000000", AFTERNOON, "f1_f2_followup"))
    voice.peer.wait()
    return attempt_id


# Twilio's answers to calls.create, as its REST API sends them (simulator/twilio.py `twilio_error`:
# {"code", "message", "more_info", "status"}), with the messages Twilio gives for each code.
PERMANENT = [
    (400, 21211, "Invalid 'To' Phone Number: +84911000210", "invalid number"),
    (400, 21217, "Phone number does not appear to be valid", "invalid number"),
    (400, 21214, "'To' phone number cannot be reached", "invalid number"),
    (400, 21215, "Account not authorized to call +84911000210. Perhaps you need to enable some international "
                 "permissions: https://www.twilio.com/console/voice/calls/geo-permissions/low-risk",
     "geographic permissions"),
    (400, 21216, "Account not allowed to call +84911000210", "geographic permissions"),
    (400, 13227, "Geo Permission configuration is not permitting call", "geographic permissions"),
]


def planned(voice: VoiceWorld, phone: str) -> int:
    """A contact with today's follow-up in an active campaign, as the dialer leaves it before a call."""
    contact_id = voice.contact(phone)
    with DbSession(voice.engine) as db:
        campaign = CallCampaign(name="Theo dõi F1", flow="f1_f2_followup", categories="F1")
        db.add(campaign)
        db.flush()
        assert campaign.id is not None
        db.add(FollowUp(campaign_id=campaign.id, contact_id=contact_id, day=DAY, state=FollowUpState.CALLING))
        db.commit()
    return contact_id


def follow_up(voice: VoiceWorld, contact_id: int) -> FollowUp:
    with DbSession(voice.engine) as db:
        found = db.exec(select(FollowUp).where(FollowUp.contact_id == contact_id)).one()
        db.expunge(found)
        return found


@pytest.mark.parametrize(("status", "code", "message", "words"), PERMANENT)
def test_an_invalid_or_forbidden_number_fails_for_good_and_the_ladder_does_not_retry_it(
        voice: VoiceWorld, status: int, code: int, message: str, words: str) -> None:
    phone = "+84911000210"
    contact_id = planned(voice, phone)
    voice.peer.refuse[phone] = (status, code, message)
    attempt_id = voice.attempt(phone)
    voice.backend.place_call(CallRequest(attempt_id, phone, "+842873000000", AFTERNOON, "f1_f2_followup"))
    attempt = voice.attempt_row(attempt_id)
    assert attempt.state == CallState.FAILED and attempt.ended_at is not None
    assert attempt.end_reason.startswith(f"{PERMANENT_FAILURE}") and f"twilio {code}:" in attempt.end_reason
    assert words in attempt.end_reason and "+84911000210" not in attempt.end_reason  # masked
    assert voice.peer.requests == 1  # not tried again in the job
    state = follow_up(voice, contact_id)
    assert state.state == FollowUpState.UNREACHED and state.next_try_at is None  # nor by the ladder
    report = provincial_report(voice.engine, None, None, "Asia/Ho_Chi_Minh")
    assert report.calls_failed_permanently == 1
    assert "Số không gọi được (không hợp lệ, chưa được phép)" in format_report(report, Vocabulary())


@pytest.mark.parametrize(("errors", "words"), [
    ([(429, 20429, "Too Many Requests")] * 4, "rate limited"),
    ([(503, 20503, "Service Unavailable")] * 4, "Twilio unavailable"),
    ([(500, 20500, "An internal server error has occurred")] * 4, "Twilio unavailable"),
])
def test_throttled_or_down_for_every_try_fails_for_now_and_the_ladder_retries(
        voice: VoiceWorld, errors: list[tuple[int, int, str]], words: str) -> None:
    phone = "+84911000211"
    contact_id = planned(voice, phone)
    voice.peer.errors_first = list(errors)
    attempt_id = voice.attempt(phone)
    voice.backend.place_call(CallRequest(attempt_id, phone, "+842873000000", AFTERNOON, "f1_f2_followup"))
    attempt = voice.attempt_row(attempt_id)
    assert attempt.state == CallState.FAILED and words in attempt.end_reason
    assert not attempt.end_reason.startswith(PERMANENT_FAILURE)
    assert voice.peer.requests == 4  # tried again within the job, backing off
    state = follow_up(voice, contact_id)
    # The ladder's next rung (unless the call window closes first: the attempt ended at the real now).
    rung = policy_from_settings(voice.settings).next_try(CallState.FAILED, 1, stored_utc(attempt.ended_at))
    assert (state.state, state.next_try_at is not None) == (
        (FollowUpState.PENDING, True) if rung is not None else (FollowUpState.UNREACHED, False))


def test_a_create_that_times_out_is_tried_again(voice: VoiceWorld) -> None:
    voice.backend.settings = voice.settings.model_copy(update={"twilio_timeout": 0.3})
    voice.peer.slow_first, voice.peer.slow_seconds = 1, 1.0
    attempt = voice.attempt_row(place(voice, "+84911000212"))
    assert voice.peer.requests == 2
    assert attempt.backend_call_id.startswith("CA") and attempt.state != CallState.FAILED


@pytest.mark.parametrize(("knob", "code", "words"), [
    ("invalid_numbers", "21211", "invalid number"),
    ("no_permission_numbers", "21215", "geographic permissions"),
])
def test_a_number_twilio_refuses_fails_the_attempt_with_twilios_code(voice: VoiceWorld, knob: str, code: str,
                                                                       words: str) -> None:
    phone = "+84911000200"
    getattr(voice.peer, knob).add(phone)
    attempt = voice.attempt_row(place(voice, phone))
    assert attempt.state == CallState.FAILED
    assert f"twilio {code}:" in attempt.end_reason and words in attempt.end_reason
    assert voice.peer.requests == 1  # not worth trying again now


def test_throttling_and_server_errors_are_tried_again_then_the_call_goes(voice: VoiceWorld) -> None:
    voice.peer.throttle_first, voice.peer.fail_first = 1, 1
    attempt = voice.attempt_row(place(voice, "+84911000201"))
    assert voice.peer.requests == 3
    assert attempt.backend_call_id.startswith("CA") and attempt.state not in (CallState.QUEUED, CallState.FAILED)


def test_twilio_down_for_good_fails_the_attempt_with_the_reason(voice: VoiceWorld) -> None:
    voice.peer.fail_first = 10
    attempt = voice.attempt_row(place(voice, "+84911000202"))
    assert attempt.state == CallState.FAILED and "twilio 20500" in attempt.end_reason
    assert "Twilio unavailable" in attempt.end_reason and attempt.ended_at is not None


def test_two_workers_together_keep_the_accounts_calls_per_second(voice: VoiceWorld) -> None:
    settings = voice.settings.model_copy(update={"twilio_calls_per_second": 4.0})
    redis = Redis.from_url(settings.redis_url)
    workers = [TwilioVoiceBackend(settings, voice.backend.calls, voice.backend.handlers, pace_for(settings, redis))
               for _ in range(2)]
    phones = [f"+8491100030{i}" for i in range(8)]
    for phone in phones:
        voice.contact(phone)
    attempts = {phone: voice.attempt(phone) for phone in phones}
    voice.peer.network.population = {}

    def work(backend: TwilioVoiceBackend, mine: list[str]) -> None:
        for phone in mine:
            backend.place_call(CallRequest(attempts[phone], phone, "+842873000000", AFTERNOON, "f1_f2_followup"))

    threads = [threading.Thread(target=work, args=(w, phones[i::2])) for i, w in enumerate(workers)]
    seconds, micros = redis.time()
    redis_start, start = seconds + micros / 1e6, time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    voice.peer.wait()
    # 4 calls/s is a slot every 0.25 s.  Both workers drew their 8 slots from the one schedule in
    # Redis (with a schedule each, it would hold 4), and the last call reached Twilio no sooner than
    # 7 slots after the first could start.  Only lower bounds: a loaded machine delays, never hurries.
    schedule_end = int(redis.get(workers[0].pace.key) or 0) / 1e6
    assert 8 * 0.25 <= schedule_end - redis_start < 8 * 0.25 + 0.5
    arrivals = sorted(c["received"] for c in voice.peer.created)
    assert len(arrivals) == 8 and arrivals[-1] - start >= 7 * 0.25
