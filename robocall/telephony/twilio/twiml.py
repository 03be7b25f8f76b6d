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

from collections.abc import Callable

from twilio.twiml.voice_response import Gather as TwimlGather
from twilio.twiml.voice_response import VoiceResponse

from robocall.conversations.resumable import Turn
from robocall.flows.engine import Gather, HangUp, Say

VOICES = {"vi": "vi-VN", "en": "en-US"}  # Twilio's <Say> languages

# (say, node the session waits at) -> the public URL of its audio, or None to speak the text
AudioUrl = Callable[[Say, str | None], str | None]


def render(turn: Turn, gather_url: str, silence_url: str, audio_url: AudioUrl) -> str:
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
