"""Attempts left open by a crash (Asterisk, the serve process or a worker killed mid-call) are closed.

An open attempt is still alive when a channel on Asterisk carries its ROBOCALL_ATTEMPT (AMI
``Status`` with ``Variables``) or its AGI session is running here.  An open attempt that is
neither, and was dialled longer ago than a ring time-out plus a margin (so an OriginateResponse
on its way is not overtaken), is ended as `failed` through its handler: the retry ladder calls
again and nothing stays `dialling` for ever.

A server that has been down (AMI not logged in and booted) for longer than that same grace has
dropped its calls as far as the dialer can tell: its open attempts without an AGI session here are
closed too (`failed`, "Asterisk <name> dropped"), so the channels they held are planned again on
the servers that are up (the dialer plans by the limits of the servers that are up).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping

from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from sqlmodel import select

from robocall.models import CallAttempt, CallState
from robocall.telephony.asterisk.ami import AmiClient, AmiError
from robocall.telephony.asterisk.backend import live_attempt_ids
from robocall.telephony.asterisk.ivr import utcnow
from robocall.telephony.base import CallHandlers

log = logging.getLogger(__name__)

Candidates = Callable[[dt.datetime], list[tuple[int, dt.datetime, str]]]  # dialled before -> [(id, at, server)]


def open_attempts(engine: Engine, dialled_before: dt.datetime,
                  backend: str = "asterisk") -> list[tuple[int, dt.datetime, str]]:
    """(id, dialled at, server) of the calls on `backend` still open (dialling, ringing, answered) that
    were dialled before `dialled_before`: the candidates for reconciling with the live channels.
    The server is what AsteriskBackend wrote before the ActionID in backend_call_id ("" if none)."""
    open_states = (CallState.DIALLING, CallState.RINGING, CallState.ANSWERED)
    with DbSession(engine) as db:
        rows = db.exec(select(CallAttempt.id, CallAttempt.dialled_at, CallAttempt.queued_at,
                              CallAttempt.backend_call_id).where(
            CallAttempt.backend == backend, CallAttempt.state.in_(open_states),  # type: ignore[attr-defined]
            CallAttempt.ended_at.is_(None),  # type: ignore[union-attr]
        )).all()
    found = []
    for attempt_id, dialled_at, queued_at, call_id in rows:
        at = dialled_at or queued_at
        at = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
        server = call_id.partition("/")[0] if "/" in (call_id or "") else ""
        if at < dialled_before and attempt_id is not None:
            found.append((attempt_id, at, server))
    return found


class Reconciler:
    def __init__(self, amis: Mapping[str, AmiClient], handlers: CallHandlers, candidates: Candidates,
                 in_session: Callable[[], Iterable[int]], grace: dt.timedelta) -> None:
        self.amis = amis  # server name -> its AMI client
        self.handlers = handlers
        self.candidates = candidates
        self.in_session = in_session
        self.grace = grace  # ring time-out plus a margin
        self.down_since: dict[str, dt.datetime] = {}  # servers not logged in, since when we noticed

    async def once(self) -> list[int]:
        """Close the open attempts their Asterisk no longer has; returns their ids.

        A server that is down is not asked and its attempts wait (its calls may still be up); once
        it is back, what it lost is closed.  An attempt with no server recorded is closed only when
        every server is up and none has it."""
        now = utcnow()
        for name, ami in self.amis.items():
            if ami.ready:
                self.down_since.pop(name, None)
            else:
                self.down_since.setdefault(name, now)
        dropped = {name for name, since in self.down_since.items() if now - since >= self.grace}
        candidates = await asyncio.to_thread(self.candidates, now - self.grace)
        if not candidates:
            return []
        live: dict[str, set[int]] = {}
        for name, ami in self.amis.items():
            if ami.ready:
                try:
                    live[name] = await live_attempt_ids(ami)
                except AmiError as exc:
                    log.warning("reconciling: cannot list the calls of Asterisk %s (%s)", name, exc)
        everywhere = set().union(*live.values()) if live else set()
        all_up = len(live) == len(self.amis)
        busy = set(self.in_session())
        closed = []
        for attempt_id, dialled, server in candidates:
            if attempt_id in busy or attempt_id in everywhere:
                continue
            lost = server in dropped
            if not lost and ((server in self.amis and server not in live) or (server not in self.amis and not all_up)):
                continue  # its server can't tell us now
            try:
                handler = await asyncio.to_thread(self.handlers.outbound, attempt_id, dialled)
                await asyncio.to_thread(handler.ended, CallState.FAILED, now, f"Asterisk {server} dropped" if lost else "")
            except LookupError as exc:
                log.error("reconciling attempt %s: %s", attempt_id, exc)
                continue
            closed.append(attempt_id)
        if closed:
            log.warning("closed %d attempt(s) Asterisk no longer had (lost in a crash or restart): %s",
                        len(closed), closed)
        return closed

    async def run(self, every: float = 60.0) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await self.once()
            except Exception:
                log.exception("reconciling open attempts failed; trying again in %.0f s", every)
