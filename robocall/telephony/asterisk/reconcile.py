"""Attempts left open by a crash (Asterisk, the serve process or a worker killed mid-call) are closed.

An open attempt is still alive when a channel on Asterisk carries its ROBOCALL_ATTEMPT (AMI
``Status`` with ``Variables``) or its AGI session is running here.  An open attempt that is
neither, and was dialled longer ago than a ring time-out plus a margin (so an OriginateResponse
on its way is not overtaken), is ended as `failed` through its handler: the retry ladder calls
again and nothing stays `dialling` for ever.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Iterable

from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from sqlmodel import select

from robocall.models import CallAttempt, CallState
from robocall.telephony.asterisk.ami import AmiClient
from robocall.telephony.asterisk.ivr import utcnow
from robocall.telephony.base import CallHandlers

log = logging.getLogger(__name__)

Candidates = Callable[[dt.datetime], list[tuple[int, dt.datetime]]]  # dialled before -> [(id, dialled at)]


def open_attempts(engine: Engine, dialled_before: dt.datetime, backend: str = "asterisk") -> list[tuple[int, dt.datetime]]:
    """(id, dialled at) of the calls on `backend` still open (dialling, ringing, answered) that were
    dialled before `dialled_before`: the candidates for reconciling with the live channels."""
    open_states = (CallState.DIALLING, CallState.RINGING, CallState.ANSWERED)
    with DbSession(engine) as db:
        rows = db.exec(select(CallAttempt.id, CallAttempt.dialled_at, CallAttempt.queued_at).where(
            CallAttempt.backend == backend, CallAttempt.state.in_(open_states),  # type: ignore[attr-defined]
            CallAttempt.ended_at.is_(None),  # type: ignore[union-attr]
        )).all()
    found = []
    for attempt_id, dialled_at, queued_at in rows:
        at = dialled_at or queued_at
        at = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
        if at < dialled_before and attempt_id is not None:
            found.append((attempt_id, at))
    return found


async def live_attempts(ami: AmiClient) -> set[int]:
    """Attempt ids on the channels Asterisk has right now."""
    live = set()
    for message in await ami.action_list("Status", {"Variables": "ROBOCALL_ATTEMPT"}, timeout=20):
        for variable in message.all("Variable"):
            name, _, value = variable.partition("=")
            if name == "ROBOCALL_ATTEMPT" and value.isdigit():
                live.add(int(value))
    return live


class Reconciler:
    def __init__(self, ami: AmiClient, handlers: CallHandlers, candidates: Candidates,
                 in_session: Callable[[], Iterable[int]], grace: dt.timedelta) -> None:
        self.ami = ami
        self.handlers = handlers
        self.candidates = candidates
        self.in_session = in_session
        self.grace = grace  # ring time-out plus a margin

    async def once(self) -> list[int]:
        """Close the open attempts Asterisk no longer has; returns their ids."""
        now = utcnow()
        candidates = await asyncio.to_thread(self.candidates, now - self.grace)
        if not candidates:
            return []
        live = await live_attempts(self.ami)  # AmiError: not now, next round
        busy = set(self.in_session())
        closed = []
        for attempt_id, dialled in candidates:
            if attempt_id in live or attempt_id in busy:
                continue
            try:
                handler = await asyncio.to_thread(self.handlers.outbound, attempt_id, dialled)
                await asyncio.to_thread(handler.ended, CallState.FAILED, now)
            except LookupError as exc:
                log.error("reconciling attempt %s: %s", attempt_id, exc)
                continue
            closed.append(attempt_id)
        if closed:
            log.warning("closed %d attempt(s) Asterisk no longer had (lost in a restart): %s", len(closed), closed)
        return closed

    async def run(self, every: float = 60.0) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await self.once()
            except Exception:
                log.exception("reconciling open attempts failed; trying again in %.0f s", every)
