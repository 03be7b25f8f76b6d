"""Phone calls carried over webhooks (Twilio): the engine's session waits in the database between requests.

A call on a webhook provider is many HTTP requests, which may reach any web process, arrive twice,
late or out of order, and may outlive a restart of the server.  So nothing of a call is kept in
memory: between requests the engine's session, what it produced so far (answers, and the
escalations and SMS its last step may already have brought) and the number of the Gather that
waits for an answer live in the attempt's own row (`CallAttempt.session`, as ``{"live": ...}``
while the line is open; the finished session once it has closed, as for every call).

Every step locks the attempt's row first and commits before it answers, so two requests for one
call never run the engine at the same time and a replay sees what the first one did:
- PostgreSQL: ``SELECT ... FOR UPDATE`` of the row;
- SQLite: a no-op ``UPDATE`` of a row as the transaction's first statement, which takes the
  database's write lock at once for the whole transaction (a plain SELECT would only take a shared lock, and two readers
  would both step the engine); the second request waits for it (busy_timeout).
The pick-ups and the Gathers' answers of many calls share one transaction (`events`, fed by
robocall/conversations/group_commit.py): one commit for the batch, each request answered after it.
The stored session is the truth, never the request: an answer to a Gather that is no longer
outstanding (a duplicate, a replay, a late redirect) changes nothing and gets the current
actions again; a status callback for a call already closed is ignored.

When the line closes the call is written exactly as the in-memory handler writes it
(robocall/conversations/recording.py `write_call`), plus the follow-up's next step for an
outbound call, in the same transaction.  A hotline call nobody took up (refused while the
person is on another call, hung up before the first answer, or never answered) becomes a
callback case for the CDC.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session as DbSession
from sqlmodel import col, select

from robocall.conversations.calls import call_setup, new_inbound_attempt, setup_for
from robocall.conversations.hotline import after_hotline_call, hotline_caller, refuse_call
from robocall.conversations.recording import VOICEMAIL_LEFT, CallRecord, LineClosed, write_call
from robocall.flows.engine import (
    Action,
    Answered,
    Event,
    Gather,
    HangUp,
    Hangup,
    Say,
    Session,
    advance,
    new_session,
    voicemail,
)
from robocall.flows.loader import Flow
from robocall.logging_setup import mask_phone
from robocall.models import ACTIVE_CALL_STATES, CallAttempt, CallState, Contact, stored_utc

log = logging.getLogger(__name__)

AfterSave = Callable[[DbSession, CallAttempt], None]
TERMINAL_STATES = (CallState.COMPLETED, CallState.BUSY, CallState.NO_ANSWER, CallState.FAILED, CallState.MACHINE)
_LINE_ORDER = {CallState.QUEUED: 0, CallState.DIALLING: 1, CallState.RINGING: 2, CallState.ANSWERED: 3}

_SQLITE_WRITER = threading.Lock()


@dataclass(frozen=True)
class Turn:
    """What the line must do now: the actions to carry out (Say, Gather, HangUp), and the number of the
    Gather among them, which its answer must name (`turn`)."""

    actions: list[Action]
    turn: int
    flow: str
    node: str | None  # where the session waits (the question asked), for the prompts' audio
    ended: bool  # the engine hung up, or the call is over

    @classmethod
    def over(cls) -> Turn:
        return cls([HangUp("completed")], 0, "", None, True)


@dataclass(frozen=True)
class Step:
    """An answer to Gather number `turn` of a call: keys pressed, or silence."""

    attempt_id: int
    turn: int
    event: Event
    at: dt.datetime


@dataclass(frozen=True)
class Pickup:
    """The callee picked up: the flow starts (Twilio fetched the voice URL)."""

    attempt_id: int
    at: dt.datetime


class ResumableCalls:
    """The conversations side of a webhook backend: every line event of a call, one transaction each."""

    def __init__(self, engine: Engine, flows: Mapping[str, Flow], timezone: ZoneInfo,
                 after_outbound: AfterSave | None = None, backend: str = "twilio") -> None:
        self.engine = engine
        self.flows = flows
        self.timezone = timezone
        self.after_outbound = after_outbound  # in the call's transaction: the dialer moves the follow-up on
        self.backend = backend

    # --- the line ---

    def start_dialling(self, attempt_id: int, at: dt.datetime, caller_id: str = "") -> bool:
        """queued -> dialling before the provider is asked (its call id comes later, `dialling`), once:
        False when the attempt is no longer queued (another run of its job placed it).  So a call handed
        out again after its worker died (robocall/campaigns/recovery.py) is never placed twice; one whose
        worker died before the provider answered has no call id, and `robocall twilio reconcile` closes it."""
        with self._locked(attempt_id) as (db, attempt):
            if attempt.state != CallState.QUEUED:
                return False
            attempt.state, attempt.backend, attempt.dialled_at = CallState.DIALLING, self.backend, at
            attempt.caller_id = caller_id or attempt.caller_id
            db.add(attempt)
            db.commit()
            return True

    def dialling(self, attempt_id: int, call_id: str, at: dt.datetime, caller_id: str = "") -> bool:
        """The provider took the call (`call_id`, its own id): queued -> dialling.  False when the attempt
        is no longer queued (a second worker placed it, or a callback was faster)."""
        with self._locked(attempt_id) as (db, attempt):
            if attempt.state != CallState.QUEUED:
                if not attempt.backend_call_id:  # a webhook came first: the call is still the provider's
                    attempt.backend, attempt.backend_call_id = self.backend, call_id
                    db.add(attempt)
                    db.commit()
                return False
            attempt.state, attempt.backend, attempt.backend_call_id = CallState.DIALLING, self.backend, call_id
            attempt.caller_id = caller_id or attempt.caller_id
            attempt.dialled_at = at
            db.add(attempt)
            db.commit()
            return True

    def ringing(self, attempt_id: int, at: dt.datetime) -> None:
        """A status callback before the answer: the line state moves forward, never back."""
        with self._locked(attempt_id) as (db, attempt):
            if _LINE_ORDER.get(CallState(attempt.state), 9) < _LINE_ORDER[CallState.RINGING]:
                attempt.state = CallState.RINGING
                attempt.dialled_at = attempt.dialled_at or at
                db.add(attempt)
                db.commit()

    def answered(self, attempt_id: int, at: dt.datetime) -> Turn:
        """The callee picked up (the voice URL): the flow starts.  Asked again, the same actions again."""
        result = self.events([Pickup(attempt_id, at)])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def _answered(self, conn: Connection, pickup: Pickup) -> Turn:
        """The pick-up as two statements (read the row with its contact, write the session): the ORM's
        load and flush cost more than all of a call's gathers together (docs/performance.md)."""
        row = conn.execute(_READ_PICKUP, {"attempt": pickup.attempt_id}).first()
        if row is None:
            raise LookupError(f"call attempt {pickup.attempt_id} does not exist")
        if row.state in TERMINAL_STATES:
            return Turn.over()
        live = _live_of(row.session)
        if live is not None and "session" in live:
            return _turn_of(live)
        attempt = CallAttempt(id=pickup.attempt_id, flow=row.flow, day=row.day, direction=row.direction,
                              contact_id=row.contact_id, phone="")
        contact = None if row.contact_id is None else Contact(
            id=row.contact_id, phone=row.contact_phone, name=row.name, category=row.category,
            district=row.district, commune=row.commune, exposure_date=row.exposure_date, language=row.language)
        flow, fields, language = setup_for(attempt, contact, self.flows)
        session, actions = advance(flow, new_session(flow, fields, language), Answered())
        record = CallRecord()
        record.collect(actions, pickup.at)
        live = _next_live(live or {}, session, record, actions, 1)
        conn.execute(_WRITE_PICKUP, {"attempt": pickup.attempt_id, "live": {"live": live},
                                     "state": CallState.ANSWERED.value, "at": pickup.at})
        return _turn_of(live)

    def events(self, steps: Sequence[Step | Pickup]) -> list[Turn | Exception]:
        """Several calls' pick-ups (the voice URL) and Gathers' answers in ONE transaction, committed before this returns:
        group commit, one fsync for the batch instead of one a webhook (docs/performance.md).  The
        busiest step of a call, so three prepared statements a step (lock, read, write) on one
        connection rather than the ORM's unit of work.

        Each step's result is its Turn, or the exception its step raised (no such call, a flow that is
        not loaded: that step writes nothing, the others go on).  A database error fails the whole
        batch (nothing of it is committed) and is raised.  Steps are taken in the order of their call's
        attempt id (a call's own steps in the order given), so two processes' batches lock rows in the
        same order and never deadlock; a call's later step sees what its earlier one wrote."""
        order = sorted(range(len(steps)), key=lambda i: steps[i].attempt_id)
        results: list[Turn | Exception] = [Turn.over()] * len(steps)
        sqlite = self.engine.dialect.name == "sqlite"
        with self.engine.connect() as conn:
            with _SQLITE_WRITER if sqlite else nullcontext(), conn.begin():
                if sqlite and steps:
                    # SQLite locks the whole database: the batch's first write takes its write lock for the
                    # transaction, so every row read after it is this transaction's alone (no lock a row).
                    conn.execute(_TAKE_WRITE_LOCK, {"attempt": steps[order[0]].attempt_id})
                for i in order:
                    try:
                        step = steps[i]
                        results[i] = (self._event(conn, step) if isinstance(step, Step)
                                      else self._answered(conn, step))
                    except SQLAlchemyError:
                        raise
                    except Exception as exc:  # noqa: BLE001 - one call's problem is that call's answer only
                        results[i] = exc
        return results

    def _event(self, conn: Connection, step: Step) -> Turn:
        row = conn.execute(_READ_LIVE, {"attempt": step.attempt_id}).first()
        if row is None:
            raise LookupError(f"call attempt {step.attempt_id} does not exist")
        if row.state in TERMINAL_STATES:
            return Turn.over()
        live = _live_of(row.session)
        if live is None or "session" not in live:
            raise LookupError(f"call attempt {step.attempt_id} has not been answered")
        if step.turn != live["turn"] or live.get("ended"):
            return _turn_of(live)
        flow = self._flow(live["session"]["flow"])
        session, actions = advance(flow, Session.from_json(live["session"]), step.event)
        record = CallRecord.from_json(live["record"])
        record.collect(actions, step.at)
        live = _next_live(live, session, record, actions, step.turn + 1)
        conn.execute(_WRITE_LIVE, {"attempt": step.attempt_id, "live": {"live": live}})
        return _turn_of(live)

    def machine(self, attempt_id: int, at: dt.datetime) -> bool:
        """Answering-machine detection said a machine took the call.  True the first time (the backend
        then ends the call); what the flow said to the machine is not kept."""
        with self._locked(attempt_id) as (db, attempt):
            live = _live(attempt)
            if attempt.state in TERMINAL_STATES or (live or {}).get("machine"):
                return False
            attempt.session = {"live": {**(live or {}), "machine": at.isoformat(), "ended": True}}
            db.add(attempt)
            db.commit()
            return True

    def voicemail_of(self, attempt_id: int) -> tuple[str, Say] | None:
        """(flow, message) to leave on the answering machine that took this call; None when its flow
        leaves none.  In the contact's language, else the flow's first."""
        with DbSession(self.engine) as db:
            attempt = db.get(CallAttempt, attempt_id)
            if attempt is None:
                raise LookupError(f"call attempt {attempt_id} does not exist")
            flow, _, language = call_setup(db, attempt, self.flows)
        say = voicemail(flow, language)
        return None if say is None else (flow.name, say)

    def voicemail_left(self, attempt_id: int) -> None:
        """The provider took the voicemail to play on the machine: the closed call will say so."""
        with self._locked(attempt_id) as (db, attempt):
            live = _live(attempt)
            if attempt.state in TERMINAL_STATES or live is None:
                return
            attempt.session = {"live": {**live, "voicemail": True}}
            db.add(attempt)
            db.commit()

    def close(self, attempt_id: int, state: CallState, at: dt.datetime, reason: str = "",
              duration: float | None = None) -> bool:
        """The line closed (the final status callback, or a failure to dial): write the call whole.
        A call answered but never finished by the flow ends as a hang-up.  False when already closed."""
        with self._locked(attempt_id) as (db, attempt):
            if attempt.state in TERMINAL_STATES:
                return False
            live = _live(attempt) or {}
            session = Session.from_json(live["session"]) if "session" in live else None
            record = CallRecord.from_json(live["record"]) if "record" in live else CallRecord()
            answered_at = stored_utc(attempt.answered_at) if attempt.answered_at else None
            if live.get("machine"):
                state, session, answered_at = CallState.MACHINE, None, None
                reason = VOICEMAIL_LEFT if live.get("voicemail") else reason
            elif state == CallState.COMPLETED and session is None:
                # Picked up, but the flow never started (the voice URL did not answer): nobody was reached.
                state, reason = CallState.FAILED, reason or "answered, but the flow never started"
            elif session is not None and answered_at is not None:
                state = CallState.COMPLETED  # answered means completed on the line, however the flow ended
                if not session.ended:
                    session, actions = advance(self._flow(session.flow), session, Hangup())
                    record.collect(actions, at)
            flow_name = session.flow if session else attempt.flow
            closed = LineClosed(state, at, stored_utc(attempt.dialled_at) if attempt.dialled_at else None,
                                answered_at, session, reason)
            saved = write_call(db, attempt_id, attempt.contact_id, flow_name, closed, record)
            if saved.direction == "inbound":
                after_hotline_call(db, saved, record, flow_name, at)
            elif self.after_outbound is not None:
                self.after_outbound(db, saved)
            db.commit()
            log.info("call %s (%s) closed: %s%s", attempt_id, mask_phone(saved.phone), state,
                     f" after {duration:.0f} s" if duration else "")
            return True

    # --- inbound (the hotline) ---

    def inbound(self, phone: str, at: dt.datetime, flow: str, call_id: str, line: str = "") -> int | None:
        """A new call from `phone` to the hotline number `line`, running `flow`: its attempt id (the same
        one for the same `call_id` asked again).  None when the person is on another call: the attempt
        is written as busy, with a callback case (robocall/conversations/hotline.py)."""
        line_flow = self.flows.get(flow)
        if line_flow is None:
            raise LookupError(f"flow '{flow}' of the inbound line is not loaded")
        with DbSession(self.engine) as db:
            known = self.attempt_of(call_id, db)
            if known is not None:
                return known
            contact = hotline_caller(db, phone, line)
            attempt = new_inbound_attempt(db, contact, phone, line_flow.name, at, self.timezone, CallState.RINGING,
                                          backend=self.backend, backend_call_id=call_id,
                                          session={"live": {"inbound": True}})
            if attempt is None:  # this person is on another call right now: the line is busy
                refuse_call(db, contact, phone, line_flow.name, at, self.timezone, "busy: on another call",
                            self.backend, call_id)
                return None
            assert attempt.id is not None
            return attempt.id

    def attempt_of(self, call_id: str, db: DbSession | None = None) -> int | None:
        """The attempt of the provider's call `call_id` (an inbound call's status callback names only it)."""
        if not call_id:
            return None
        if db is None:
            with DbSession(self.engine) as own:
                return self.attempt_of(call_id, own)
        return db.exec(select(CallAttempt.id).where(CallAttempt.backend == self.backend,
                                                    CallAttempt.backend_call_id == call_id)
                       .order_by(col(CallAttempt.id).desc())).first()

    def open_calls(self, dialled_before: dt.datetime | None = None) -> list[tuple[int, str]]:
        """(attempt id, provider call id) of the calls this backend has on the line (dialled before a time)."""
        query = select(CallAttempt.id, CallAttempt.backend_call_id).where(
            CallAttempt.backend == self.backend, col(CallAttempt.state).in_(ACTIVE_CALL_STATES))
        if dialled_before is not None:
            query = query.where(col(CallAttempt.dialled_at) < dialled_before)
        with DbSession(self.engine) as db:
            rows = db.exec(query).all()
        return [(row[0], row[1]) for row in rows if row[0] is not None]

    # --- inside ---

    @contextmanager
    def _locked(self, attempt_id: int) -> Iterator[tuple[DbSession, CallAttempt]]:
        if self.engine.dialect.name != "sqlite":
            with DbSession(self.engine) as db:
                yield db, self._row(db, attempt_id)
            return
        # SQLite has one writer at a time: this process's threads queue here in order instead of
        # polling the database's lock (busy_timeout sleeps and retries, which makes the slowest wait long).
        with _SQLITE_WRITER, DbSession(self.engine) as db:
            db.exec(update(CallAttempt).where(col(CallAttempt.id) == attempt_id).values(id=CallAttempt.id))
            yield db, self._row(db, attempt_id)

    @staticmethod
    def _row(db: DbSession, attempt_id: int) -> CallAttempt:
        attempt = db.exec(select(CallAttempt).where(CallAttempt.id == attempt_id).with_for_update()).first()
        if attempt is None:
            raise LookupError(f"call attempt {attempt_id} does not exist")
        return attempt

    def _flow(self, name: str) -> Flow:
        flow = self.flows.get(name)
        if flow is None:
            raise LookupError(f"flow '{name}' is not loaded")
        return flow


_ATTEMPT = CallAttempt.__table__  # type: ignore[attr-defined]
_TAKE_WRITE_LOCK = update(_ATTEMPT).where(_ATTEMPT.c.id == bindparam("attempt")).values(id=_ATTEMPT.c.id)
_READ_LIVE = select(_ATTEMPT.c.state, _ATTEMPT.c.session).where(_ATTEMPT.c.id == bindparam("attempt")).with_for_update()
_CONTACT = Contact.__table__  # type: ignore[attr-defined]
_READ_PICKUP = (
    select(_ATTEMPT.c.state, _ATTEMPT.c.session, _ATTEMPT.c.flow, _ATTEMPT.c.day, _ATTEMPT.c.direction,
           _ATTEMPT.c.contact_id, _CONTACT.c.phone.label("contact_phone"), _CONTACT.c.name, _CONTACT.c.category,
           _CONTACT.c.district, _CONTACT.c.commune, _CONTACT.c.exposure_date, _CONTACT.c.language)
    .select_from(_ATTEMPT.outerjoin(_CONTACT, _CONTACT.c.id == _ATTEMPT.c.contact_id))
    .where(_ATTEMPT.c.id == bindparam("attempt")).with_for_update(of=_ATTEMPT)
)
_WRITE_PICKUP = update(_ATTEMPT).where(_ATTEMPT.c.id == bindparam("attempt")).values(
    session=bindparam("live"), state=bindparam("state"), answered_at=bindparam("at"))
_WRITE_LIVE = update(_ATTEMPT).where(_ATTEMPT.c.id == bindparam("attempt")).values(session=bindparam("live"))


def _next_live(live: dict[str, Any], session: Session, record: CallRecord, actions: list[Action],
               turn: int) -> dict[str, Any]:
    shown = [a for a in actions if isinstance(a, Say | Gather | HangUp)]
    return {**live, "session": session.to_json(), "record": record.to_json(), "turn": turn,
            "actions": [_action_json(a) for a in shown], "ended": session.ended}


def _live(attempt: CallAttempt) -> dict[str, Any] | None:
    return _live_of(attempt.session)


def _live_of(data: object) -> dict[str, Any] | None:
    live = data.get("live") if isinstance(data, dict) else None
    return dict(live) if isinstance(live, dict) else None


_ACTION_TYPES: dict[str, type[Say] | type[Gather] | type[HangUp]] = {"say": Say, "gather": Gather, "hangup": HangUp}


def _action_json(action: Action) -> dict[str, Any]:
    kind = {Say: "say", Gather: "gather", HangUp: "hangup"}[type(action)]
    return {"type": kind, **asdict(action)}


def _turn_of(live: dict[str, Any]) -> Turn:
    actions: list[Action] = []
    for item in live.get("actions", []):
        fields = {k: v for k, v in item.items() if k != "type"}
        actions.append(_ACTION_TYPES[item["type"]](**fields))
    session = live.get("session") or {}
    return Turn(actions, int(live.get("turn", 0)), session.get("flow", ""), session.get("node"),
                bool(live.get("ended")))

