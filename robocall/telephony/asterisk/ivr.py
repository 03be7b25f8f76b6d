"""One AGI session drives one CallHandler: the flow engine's actions become AGI commands and the
caller's keys, silence and hang-up become engine events.

* Say -> STREAM FILE (keys interrupt it when a question follows: the caller may answer early);
  the last Say before a Gather is played by GET DATA, which collects the answer while it plays.
* Gather -> GET DATA with the time-out and max digits (``#`` ends a number), or WAIT FOR DIGIT
  for keys pressed after an interrupted prompt.
* HangUp -> HANGUP.  The AGI connection closing, a ``HANGUP`` line or ``511`` is the caller
  hanging up: the engine gets Hangup and the call ends as completed.
* A prompt with no audio, or ``200 result=-1`` while the channel is still up (Asterisk could not
  play the file): an error, logged and counted (prompts.MISSING_PROMPTS); the question is still
  asked by keys.

Engine steps are cheap and run in the event loop; `ended` writes the database, so it runs in a
thread and never blocks other calls.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from typing import Any

from robocall.flows.engine import Action, Digits, Event, Gather, HangUp, Hangup, Say, Timeout
from robocall.models import CallState
from robocall.telephony.asterisk.fastagi import AgiChannel, AgiError, AgiHangup, quote
from robocall.telephony.asterisk.prompts import FlowPrompts, missing_prompt
from robocall.telephony.base import CallHandler

log = logging.getLogger(__name__)

ALL_KEYS = "0123456789*#"
MAX_TURNS = 200  # a flow that never ends is cut off
PROMPT_TIMEOUT = 600.0  # the longest a single prompt may play
CHANNEL_UP = 6  # CHANNEL STATUS: "line is up"
# After a full number (max digits) the caller still presses the finishing key the prompt asked for;
# GET DATA has returned by then, and that key would end the next question's GET DATA with nothing.
FINISH_GRACE_MS = 2000


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class CallerGone(Exception):
    """The caller hung up (or the AGI connection broke) during a command."""


class IvrCall:
    def __init__(self, agi: AgiChannel, handler: CallHandler, prompts: FlowPrompts,
                 clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.agi = agi
        self.handler = handler
        self.prompts = prompts
        self.clock = clock
        self.channel = agi.env.get("agi_channel", "?")

    async def run(self) -> CallState:
        """Play the call from pick-up to hang-up; the handler has recorded it when this returns."""
        state = CallState.COMPLETED
        try:
            actions = self.handler.answered(self.clock())
            for _ in range(MAX_TURNS):
                event = await self.perform(actions)
                if event is None:  # the flow hung up
                    break
                actions = self.handler.event(event, self.clock())
                if isinstance(event, Hangup):
                    break
            else:
                log.warning("call on %s cut off after %d turns", self.channel, MAX_TURNS)
                self.handler.event(Hangup(), self.clock())
        except (CallerGone, AgiError) as exc:  # AgiHangup is an AgiError
            if not isinstance(exc, (CallerGone, AgiHangup)):
                log.warning("AGI failed on %s: %s; the call ends as a hang-up", self.channel, exc)
            self.handler.event(Hangup(), self.clock())
        finally:
            await asyncio.to_thread(self.handler.ended, state, self.clock())
            if not self.agi.closed and not self.agi.hung_up:
                try:
                    await self.agi.hangup()
                except AgiError:
                    pass
        return state

    async def perform(self, actions: Sequence[Action]) -> Event | None:
        """Carry out one turn's actions; the caller's answer, Hangup, or None when the flow hung up."""
        says = [a for a in actions if isinstance(a, Say)]
        gather = next((a for a in actions if isinstance(a, Gather)), None)
        hang_up = any(isinstance(a, HangUp) for a in actions)
        if gather is None:
            for say in says:
                await self.play(say, "", escape="")
            if hang_up:
                await self.agi.hangup()
                return None
            # Nothing asked and no hang-up: the line is closed like a caller hanging up on silence.
            return Hangup()
        typed = ""
        for say in says[:-1]:
            typed = await self.play(say, "", escape=ALL_KEYS)
            if typed:
                break
        if not typed and says:
            return await self.ask(says[-1], gather)
        return self._event(await self.collect(typed, gather))

    async def play(self, say: Say, node: str, escape: str) -> str:
        """Play a prompt; the key that interrupted it, or ""."""
        name = await self.prompts(say, node)
        if name is None:
            missing_prompt(_label(say, node), self.channel)
            return ""
        result = await self.command(f"STREAM FILE {quote(name)} {quote(escape)}", PROMPT_TIMEOUT)
        if result.value < 0:
            await self._check_up(name)
            return ""
        return chr(result.value) if result.value > 0 else ""

    async def ask(self, say: Say, gather: Gather) -> Event:
        name = await self.prompts(say, gather.node)
        if name is None:
            missing_prompt(_label(say, gather.node), self.channel)
            return self._event(await self.collect("", gather))
        result = await self.command(
            f"GET DATA {quote(name)} {gather.timeout * 1000} {gather.max_digits}",
            PROMPT_TIMEOUT + gather.timeout * (gather.max_digits + 1))
        if result.result == "-1":
            await self._check_up(name)
            return self._event(await self.collect("", gather))
        await self.swallow_finish(result.result, gather)
        return self._event(result.result)

    async def collect(self, typed: str, gather: Gather) -> str:
        """Keys after `typed` until max digits, the finish key or the time-out."""
        finish = gather.finish_on_key or "#"
        while len(typed) < gather.max_digits and not typed.endswith(finish):
            result = await self.command(f"WAIT FOR DIGIT {gather.timeout * 1000}", gather.timeout + 10)
            if result.value < 0:
                raise CallerGone()
            if result.value == 0:
                break
            typed += chr(result.value)
        await self.swallow_finish(typed, gather)
        return typed.removesuffix(finish) if gather.finish_on_key or gather.max_digits > 1 else typed

    async def swallow_finish(self, typed: str, gather: Gather) -> None:
        """Read and drop the finishing key that follows a full number, so that it does not answer the
        next question; a caller who does not press it waits FINISH_GRACE_MS more.  A hang-up here is
        noticed by the next command (the answer typed still counts)."""
        finish = gather.finish_on_key
        if not finish or len(typed) < gather.max_digits or typed.endswith(finish):
            return
        try:
            await self.command(f"WAIT FOR DIGIT {FINISH_GRACE_MS}", FINISH_GRACE_MS / 1000 + 10)
        except (CallerGone, AgiError):
            pass

    async def command(self, line: str, timeout: float) -> Any:
        if self.agi.hung_up:
            raise CallerGone()
        try:
            return await self.agi.command(line, timeout)
        except AgiHangup:
            raise CallerGone() from None

    async def _check_up(self, name: str) -> None:
        """After ``result=-1``: either the caller is gone or the file could not be played."""
        if self.agi.hung_up:
            raise CallerGone()
        status = await self.command("CHANNEL STATUS", 10)
        if self.agi.hung_up or status.value != CHANNEL_UP:
            raise CallerGone()
        missing_prompt(name, self.channel)

    @staticmethod
    def _event(digits: str) -> Event:
        return Digits(digits) if digits else Timeout()


def _label(say: Say, node: str) -> str:
    return f"{node or '?'}.{say.kind}.{say.language}"
