"""The engine's actions as TwiML (`twilio.twiml.voice_response`).

- `Say` -> `<Play>` of the prompt's audio served by our server (robocall/audio, Twilio's MP3), or
  `<Say language="vi-VN">` when no audio exists; the prompts before a question go inside its
  `<Gather>`, so a caller who knows the answer may press it while the robot speaks.
- `Gather` -> `<Gather input="dtmf">` posting to the gather URL of this turn: one key for a menu
  (`numDigits="1"`), up to the question's digits ended by `#` for numbers and dates
  (`finishOnKey="#"`); silence follows the `<Redirect>` after it (no empty action).
- `HangUp` -> `<Hangup/>`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from twilio.twiml.voice_response import Gather as TwimlGather
from twilio.twiml.voice_response import VoiceResponse

from robocall.conversations.resumable import Turn
from robocall.flows.engine import Action, Gather, HangUp, Say

VOICES = {"vi": "vi-VN", "en": "en-US"}  # Twilio's <Say> languages

# (say, node the session waits at) -> the public URL of its audio, or None to speak the text
AudioUrl = Callable[[Say, str | None], str | None]


def render(turn: Turn, gather_url: str, silence_url: str, audio_url: AudioUrl) -> str:
    """The TwiML document, byte for byte what `build` makes, from a template cached per shape.

    Building the ElementTree for every webhook cost more than the rest of the TwiML step; a turn's
    document only varies by its URLs and texts, so each shape (which elements, their fixed
    attributes) is built once by `build` with markers in place of the values, and later turns fill
    the values in, escaped as ElementTree escapes them (tests/twilio/test_twilio_twiml.py compares
    the two on every shape)."""
    gather = next((a for a in turn.actions if isinstance(a, Gather)), None)
    spoken = [(a, audio_url(a, turn.node)) for a in turn.actions if isinstance(a, Say) and a.text.strip()]
    ends = gather is None and (any(isinstance(a, HangUp) for a in turn.actions) or turn.ended)
    key = (None if gather is None else (gather.max_digits, gather.timeout, gather.finish_on_key),
           tuple(None if url else say.language for say, url in spoken), ends)
    parts = _TEMPLATES.get(key)
    if parts is None:
        parts = _template(gather, spoken, ends)
        if len(_TEMPLATES) >= 1024:  # shapes are few (a flow's questions); bounded all the same
            _TEMPLATES.clear()
        _TEMPLATES[key] = parts
    values = [_attribute(gather_url)] if gather is not None else []
    values += [_text(url or say.text) for say, url in spoken]
    if gather is not None:
        values.append(_text(silence_url))
    out = [parts[0]]
    for value, part in zip(values, parts[1:], strict=True):
        out.append(value)
        out.append(part)
    return "".join(out)


_TEMPLATES: dict[tuple[object, ...], list[str]] = {}
_MARK = re.compile("\x00([0-9]+)\x00")  # a control character: never in a marker's neighbours


def _template(gather: Gather | None, spoken: list[tuple[Say, str | None]], ends: bool) -> list[str]:
    """The document of this shape split around its values' places (markers built by `build` itself)."""
    count = iter(range(1_000_000))
    gather_url = f"\x00{next(count)}\x00" if gather is not None else ""
    actions: list[Action] = [] if gather is None else [gather]
    played: dict[int, str] = {}
    for say, url in spoken:
        mark = f"\x00{next(count)}\x00"
        actions.append(Say(mark, say.language, say.audio, say.kind))
        if url:
            played[id(actions[-1])] = mark
    silence_url = f"\x00{next(count)}\x00" if gather is not None else ""
    if ends:
        actions.append(HangUp("completed"))
    document = build(Turn(actions, 0, "", None, False), gather_url, silence_url,
                     lambda say, node: played.get(id(say)))
    pieces = _MARK.split(document)
    assert [int(i) for i in pieces[1::2]] == list(range(len(pieces) // 2)), "a value's place escaped oddly"
    return pieces[0::2]


def _text(value: str) -> str:
    """A value as ElementTree writes element text."""
    if "&" in value or "<" in value or ">" in value:
        value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value


def _attribute(value: str) -> str:
    """A value as ElementTree writes an attribute (Python 3.11+: quotes and whitespace controls too)."""
    return (_text(value).replace('"', "&quot;").replace("\r", "&#13;").replace("\n", "&#10;")
            .replace("\t", "&#09;"))


def build(turn: Turn, gather_url: str, silence_url: str, audio_url: AudioUrl) -> str:
    """The TwiML document through `twilio.twiml.voice_response` (ElementTree)."""
    response = VoiceResponse()
    gather = next((a for a in turn.actions if isinstance(a, Gather)), None)
    target: VoiceResponse | TwimlGather = response
    if gather is not None:
        options = {"num_digits": gather.max_digits} if gather.finish_on_key is None or gather.max_digits < 8 else {}
        target = response.gather(input="dtmf", action=gather_url, method="POST", timeout=gather.timeout,
                                 finish_on_key=gather.finish_on_key or "", action_on_empty_result=False,
                                 **options)
    for action in turn.actions:
        if isinstance(action, Say) and action.text.strip():
            url = audio_url(action, turn.node)
            if url:
                target.play(url)
            else:
                target.say(action.text, language=VOICES.get(action.language, action.language))
    if gather is not None:
        response.redirect(silence_url, method="POST")
    elif any(isinstance(a, HangUp) for a in turn.actions) or turn.ended:
        response.hangup()
    return str(response)
