"""Residents' scripts as Asterisk dialplan: the simulated residents on a real Asterisk.

Every number gets an extension in ``[residents]`` (the dial template ``Local/{national}@residents``):
it counts the calls it has received today in a global variable and plays the script of that call
(`simulator/scripts.py`): busy (``Busy``), congestion (``Congestion``: a failed line), ringing until
the dialler gives up, a voicemail greeting for answering-machine detection, or a person who picks up
after ringing, says "a lô" and answers each question in turn.

A person answers when the robot speaks, not after fixed delays, so calls stay right however slow the
machine is: at each question the resident waits for the robot's prompt to start (``WaitForNoise``),
then presses the keys (``SendDTMF``; a key interrupts the prompt and counts as the answer, as it does
for a caller), hangs up, or stays silent: waits for the prompt to end (``WaitForSilence``) and lets
the robot's time-out run.  After the last question the resident stays on the line until the robot
hangs up.

The robot's prompts are short tones here (`TonePrompts`): what is being checked is the conversation,
and tones keep a call to a few seconds.  The greetings are tones too: AMD hears a short one (a person)
or a long one (a voicemail greeting).
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from robocall.flows.engine import Say
from robocall.flows.loader import Flow
from robocall.models import CallState
from robocall.phones import normalize
from robocall.telephony.asterisk.prompts import FlowPrompts, RenderedPrompts
from simulator.scripts import HANGUP, CallScript, Step

CONTEXT = "residents"
CALLS_CONTEXT = "resident-calls"
NOISE_MS = 150  # continuous sound that means the robot is speaking (a key's tail is shorter)
SILENCE_MS = 1000  # quiet that means the robot has finished its prompts (longer than a gap between two)
WAIT_LIMIT = 60  # seconds a resident waits for the robot before acting anyway (never reached when all is well)


@dataclass(frozen=True)
class Sounds:
    """Sound files (paths without extension, as Asterisk names them)."""

    prompt: str  # every prompt of the robot
    hello: str  # a person's "a lô" when picking up
    voicemail: str  # a voicemail greeting, long enough for AMD to call it a machine


def make_sounds(folder: Path) -> Sounds:
    """Tones in Asterisk's format (8 kHz mono 16-bit WAV), made with sox."""
    folder.mkdir(parents=True, exist_ok=True)
    specs = {"prompt": ("0.8", "700"), "hello": ("0.5", "400"), "voicemail": ("3.5", "500")}
    for name, (seconds, freq) in specs.items():
        subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", str(folder / f"{name}.wav"),
                        "synth", seconds, "sine", freq, "vol", "0.5"], check=True, capture_output=True)
    return Sounds(*(str((folder / name).resolve()) for name in specs))


class TonePrompts(RenderedPrompts):
    """Every Say of every flow played as the same short tone."""

    def __init__(self, sounds: Sounds, flows: Mapping[str, Flow]) -> None:  # no renderer: nothing is spoken
        self.flows = flows
        self.asterisk_dir = ""
        self.sound = sounds.prompt

    def for_flow(self, flow_name: str) -> FlowPrompts:
        async def name(say: Say, node: str) -> str | None:
            return self.sound

        return name


def national(phone: str) -> str:
    return "".join(ch for ch in normalize(phone, require_mobile=False).national if ch.isdigit())


def call_steps(script: CallScript, sounds: Sounds, ring_timeout: int, time_scale: float) -> list[str]:
    """One call's dialplan applications, from the moment the phone rings."""
    ring = round(min(script.ring * time_scale, ring_timeout - 1.5), 1)
    if script.line == CallState.BUSY:
        return ["Busy(2)"]
    if script.line == CallState.FAILED:
        return ["Congestion(2)"]
    if script.line == CallState.NO_ANSWER:
        return ["Ringing()", f"Wait({ring_timeout + 30})"]
    if script.line == CallState.MACHINE:
        return ["Ringing()", f"Wait({ring})", "Answer()", f"Playback({sounds.voicemail})", f"Wait({WAIT_LIMIT})"]
    steps = ["Ringing()", f"Wait({ring})", "Answer()", f"Playback({sounds.hello})"]
    for step in script.steps:
        steps.extend(question(step))
        if step.keys == HANGUP:
            return steps
    return [*steps, f"Wait({WAIT_LIMIT})"]  # on the line until the robot says goodbye and hangs up


def question(step: Step) -> list[str]:
    heard = f"WaitForNoise({NOISE_MS},1,{WAIT_LIMIT})"
    if step.keys == HANGUP:
        return [heard, "Hangup()"]
    if not step.keys:
        return [heard, f"WaitForSilence({SILENCE_MS},1,{WAIT_LIMIT})"]
    return [heard, f"SendDTMF({step.keys},{int(step.key_gap * 1000)})"]


def residents_dialplan(scripts: Mapping[str, Sequence[CallScript]], sounds: Sounds, ring_timeout: int,
                       time_scale: float = 0.1) -> str:
    """extensions_residents.conf: by E.164 phone, the scripts of its calls in order."""
    lines = [f"[{CONTEXT}]"]
    calls = [f"[{CALLS_CONTEXT}]"]
    for phone, day in scripts.items():
        number = national(phone)
        counter = f"RESIDENT_CALLS_{number}"
        # One call at a time per number (the dialer's rule), so the counter needs no lock.
        lines += [f"exten => {number},1,Set(N=$[0${{GLOBAL({counter})}} + 1])",
                  f" same => n,Set(GLOBAL({counter})=${{N}})",
                  f" same => n,Goto({CALLS_CONTEXT},c${{N}}n{number},1)"]
        for k, script in enumerate(day, start=1):
            for i, app in enumerate([*call_steps(script, sounds, ring_timeout, time_scale), "Hangup()"]):
                calls.append(f"exten => c{k}n{number},1,{app}" if i == 0 else f" same => n,{app}")
    return "\n".join(lines + calls) + "\n"
