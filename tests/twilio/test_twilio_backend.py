"""Placing calls: Twilio's refusals as outcomes with reasons, retries, and the account's calls per second."""

from __future__ import annotations

import threading

import pytest
from redis import Redis
from voicehelp import AFTERNOON, VoiceWorld

from robocall.models import CallState
from robocall.telephony.base import CallRequest
from robocall.telephony.twilio.backend import TwilioVoiceBackend, pace_for


def place(voice: VoiceWorld, phone: str) -> int:
    voice.contact(phone)
    attempt_id = voice.attempt(phone)
    voice.backend.place_call(CallRequest(attempt_id, phone, "+842873000000", AFTERNOON, "f1_f2_followup"))
    voice.peer.wait()
    return attempt_id


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
    assert attempt.end_reason.startswith(f"twilio {code}:") and words in attempt.end_reason
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
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    voice.peer.wait()
    times = sorted(c["received"] for c in voice.peer.created)
    assert len(times) == 8
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps) > 0.2  # 4 calls/s: 0.25 s apart, whichever worker placed them
    assert times[-1] - times[0] >= 7 * 0.25 - 0.05
