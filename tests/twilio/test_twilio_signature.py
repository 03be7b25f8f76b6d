"""Our X-Twilio-Signature check decides exactly as the `twilio` package's RequestValidator."""

from __future__ import annotations

import random

from multidict import MultiDict
from twilio.request_validator import RequestValidator

from robocall.telephony.twilio.signature import SignatureCheck

BASES = ["https://robocall.example.vn", "https://robocall.example.vn:443", "http://127.0.0.1:8080",
         "http://cdc.local", "https://cdc.example.vn:8443/robocall", "http://cdc.local:80/prefix"]
NAMES = ["CallSid", "AccountSid", "Digits", "From", "To", "CallStatus", "ApiVersion", "AnsweredBy", "X", "a", "B"]
ALPHABET = "abcXYZ019 +-_.&=?#%/:éờ\u00a0"


def _text(rng: random.Random, most: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, most)))


def _request(rng: random.Random) -> tuple[str, str, MultiDict[str]]:
    base = rng.choice(BASES)
    path = f"/twilio/voice/{rng.randint(1, 10**6)}/gather/{rng.randint(1, 40)}"
    if rng.random() < 0.7:
        path += f"?flow=f1_f2_followup&node=q{rng.randint(1, 9)}"
    form: MultiDict[str] = MultiDict()
    for _ in range(rng.randint(0, 9)):  # repeated names too, as a form may carry them
        form.add(rng.choice(NAMES), _text(rng, 12))
    return base, path, form


def test_the_check_agrees_with_twilios_request_validator_on_random_requests() -> None:
    rng = random.Random(20261204)
    token = "tok" + "e" * 29
    validator = RequestValidator(token)
    checks = {base: SignatureCheck(token, base) for base in BASES}
    accepted = refused = 0
    for _ in range(3000):
        base, path, form = _request(rng)
        url = base + path
        choice = rng.random()
        if choice < 0.4:  # as Twilio signs it, on the URL with or without the default port
            signed_url = rng.choice([url, url.replace("https://robocall.example.vn/", "https://robocall.example.vn:443/"),
                                     url.replace("http://cdc.local:80/", "http://cdc.local/")])
            signature = validator.compute_signature(signed_url, form)
        elif choice < 0.6:  # signed for other parameters
            other = MultiDict(form)
            other.add("Digits", _text(rng, 3) + "9")
            signature = validator.compute_signature(url, other)
        elif choice < 0.75:  # another token
            signature = RequestValidator("another-token").compute_signature(url, form)
        elif choice < 0.85:  # another URL
            signature = validator.compute_signature(url + "x", form)
        else:
            signature = rng.choice(["", "bm90IGEgc2lnbmF0dXJl", _text(rng, 28)])
        expected = bool(signature) and validator.validate(url, form, signature)
        assert checks[base].valid(path, form.items(), signature) == expected, (url, list(form.items()), signature)
        accepted += expected
        refused += not expected
    assert accepted > 1000 and refused > 1000  # both sides were exercised


def test_a_non_text_value_is_refused() -> None:
    check = SignatureCheck("token", "https://robocall.example.vn")
    signature = RequestValidator("token").compute_signature("https://robocall.example.vn/x", {"a": "b"})
    assert check.valid("/x", [("a", "b")], signature)
    assert not check.valid("/x", [("a", b"b")], signature)
