"""Single SMS (replies, health notices) through an outbox: written in the caller's transaction,
queued to RQ once that transaction has committed.

    with DbSession(engine) as db:
        ...                                   # record the call
        send_sms(db, attempt.phone, text, Purpose.ESCALATION, at=ended_at)
        db.commit()                           # the message exists with the call record, or neither does
    # after the commit: the sender wired by the composition root has it (send_batch_job on the SMS queue)

- Every single message belongs to one standing campaign of kind ``transactional``, made on first use
  (a partial unique index keeps it to one, whatever number of workers race).  It stays ``running``:
  sms/fanout never finishes it, and sms/send does not hold it back in quiet hours (a person who just
  wrote is waiting for the answer, and a health notice must not wait for the morning).
- The number is normalised (robocall.phones), routed like campaign messages (the ported-number
  table, then SMS_ROUTES) and measured (robocall.text.measure); the text is kept as written (NFC), accents
  included.
- Nothing is written for an invalid number, an empty text, or a number that opted out (STOP /
  TU CHOI): the result says why.  Opt-outs win over everything, replies included: no confirmation of
  an opt-out is sent (the person asked for no more messages; the opt-out itself is audited).
- Queueing after the commit: automatic with a Session (its ``after_commit`` event); with a Core
  Connection, open it with :func:`begin`.  A queueing that is lost (Redis down, a worker killed
  between the commit and the enqueue) is made good by ``robocall sms run``
  (sms.fanout.run_forever), which queues the due messages of running campaigns again: the row is
  the truth, the job only a nudge.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import event, func, insert, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session
from sqlmodel import col

from robocall.config import Settings, get_settings
from robocall.db import dialect_insert
from robocall.logging_setup import mask_phone
from robocall.models import utcnow
from robocall.optouts import opted_out_among
from robocall.phones import InvalidPhone, normalize
from robocall.sms_models import (
    CampaignKind,
    CampaignStatus,
    MessageState,
    SmsCampaign,
    SmsMessage,
    SmsRouteOverride,
)
from robocall.sms_routing import Router
from robocall.text import measure, nfc

log = logging.getLogger(__name__)

Db = Session | Connection
_PENDING = "sms_outbox_pending"  # (campaign id, message id) written in the current transaction
_HOOKED = "sms_outbox_hooked"
STANDING_NAME = "Tin nhắn riêng: trả lời, hướng dẫn sức khỏe"
# Never sent (every single message has its own text), but a campaign's template must be a valid text.
STANDING_TEMPLATE = "(mỗi tin một nội dung riêng)"


class Purpose(StrEnum):
    ESCALATION = "escalation"  # a flow rule's SMS (`do: [sms]`) after a call or an SMS declaration
    DECLARATION = "declaration"  # one turn of a health declaration by SMS (robocall/conversations/sms_declaration.py)


@dataclass(frozen=True)
class Written:
    """What send_sms did: the message id, or why nothing was written."""

    message_id: int | None
    reason: str = ""  # "opted out", "empty text", or the number's problem ("too short", ...)

    @property
    def written(self) -> bool:
        return self.message_id is not None


def send_sms(db: Db, phone: str, text: str, purpose: Purpose | str, *, at: dt.datetime | None = None,
             router: Router | None = None) -> Written:
    """Write one message to `phone` in `db`'s transaction; it is queued once that commits.

    `at` is when the event that caused it happened (the end of a call; virtual time on the
    simulator): the message's queued_at, which the report counts single messages by.
    """
    try:
        number = normalize(phone)
    except InvalidPhone as exc:
        log.warning("SMS (%s) to %s not written: %s", purpose, mask_phone(phone), exc.reason)
        return Written(None, exc.reason)
    body = nfc(text).strip()
    if not body:
        return Written(None, "empty text")
    if opted_out(db, number.e164):
        log.info("SMS (%s) to %s not written: opted out", purpose, mask_phone(number.e164))
        return Written(None, "opted out")
    ported = _run(db, select(SmsRouteOverride.carrier).where(SmsRouteOverride.phone == number.e164)).scalar()
    carrier = ported or number.carrier
    measured = measure(body)
    campaign_id = standing_campaign_id(db)
    message_id = _run(db, insert(SmsMessage).values(
        campaign_id=campaign_id, phone=number.e164, carrier=carrier,
        gateway=(router or default_router()).gateway_for(carrier), text=body, encoding=measured.encoding,
        segments=measured.segments, state=MessageState.QUEUED, attempts=0, reason="", purpose=str(purpose),
        queued_at=at or utcnow(),
    ).returning(SmsMessage.id)).scalar_one()
    _remember(db, campaign_id, message_id)
    return Written(message_id)


def opted_out(db: Db, e164: str) -> bool:
    """The number said STOP / TU CHOI (the opt-out table), or is a contact marked opted out."""
    return bool(opted_out_among(db, [e164]))


def standing_campaign_id(db: Db) -> int:
    """The transactional campaign's id, made on first use (INSERT ... ON CONFLICT DO NOTHING, so two
    workers making it at once get the same one and neither transaction fails)."""
    find = select(SmsCampaign.id).where(SmsCampaign.kind == CampaignKind.TRANSACTIONAL).order_by(SmsCampaign.id)
    found = _run(db, find).scalar()
    if found is not None:
        return int(found)
    _run(db, dialect_insert(bind_of(db), SmsCampaign).values(
        kind=CampaignKind.TRANSACTIONAL, name=STANDING_NAME, template=STANDING_TEMPLATE, strip_accents=False,
        source="sms/outbox", status=CampaignStatus.RUNNING, recipients=0, duplicates=0, invalid=0, opted_out=0,
        created_at=utcnow(),
    ).on_conflict_do_nothing(index_elements=["kind"], index_where=SmsCampaign.kind == CampaignKind.TRANSACTIONAL))
    return int(_run(db, find).scalar_one())


_routers: dict[int, tuple[Settings, Router]] = {}


def default_router() -> Router:
    """The router of the process's settings, as campaigns route (built once per settings object).

    The outbox's callers (a call's recording, an SMS dialogue) are reached from several roots that
    do not hand a router down, hence this one read of the settings.
    """
    settings = get_settings()
    cached = _routers.get(id(settings))
    if cached is None or cached[0] is not settings:
        _routers.clear()
        cached = _routers[id(settings)] = (settings, Router.from_settings(settings))
    return cached[1]


# --- after the commit -------------------------------------------------------------------------


@contextmanager
def begin(engine: Engine) -> Iterator[Connection]:
    """``engine.begin()`` for Core code: the messages written inside are queued once it commits."""
    with engine.connect() as connection:
        connection.info.pop(_PENDING, None)  # left by an earlier, rolled back use of this pooled connection
        with connection.begin():
            yield connection
        enqueue(connection.info.pop(_PENDING, []))


def _remember(db: Db, campaign_id: int, message_id: int) -> None:
    db.info.setdefault(_PENDING, []).append((campaign_id, message_id))
    if isinstance(db, Session) and not db.info.get(_HOOKED):
        db.info[_HOOKED] = True
        event.listen(db, "after_commit", _after_commit)
        event.listen(db, "after_rollback", _after_rollback)


def _after_commit(session: Session) -> None:
    pending = session.info.get(_PENDING) or []
    items, pending[:] = list(pending), []
    enqueue(items)


def _after_rollback(session: Session) -> None:
    (session.info.get(_PENDING) or []).clear()  # those rows are gone


Notifier = Callable[[list[tuple[int, int]]], None]
_notifiers: list[Notifier] = []


def on_written(notify: Notifier) -> None:
    """Register what hands committed messages to the sender (sms.fanout.queue_single_messages).

    The composition roots (worker, server, CLI) register it: the outbox sits below the SMS side
    and must not import it.  Without one, the rows still exist and ``robocall sms run`` sends them.
    """
    if notify not in _notifiers:
        _notifiers.append(notify)


def enqueue(items: list[tuple[int, int]]) -> None:
    """Hand (campaign id, message id) pairs that were just committed to the registered sender."""
    if not items:
        return
    if not _notifiers:
        log.warning("%d SMS written but no sender is wired in this process: `robocall sms run` queues them",
                    len(items))
    for notify in _notifiers:
        notify(items)


def bind_of(db: Db) -> Connection | Engine:
    return db.get_bind() if isinstance(db, Session) else db


def _run(db: Db, statement: Any) -> Any:
    """Execute on a Session or a Connection alike."""
    return db.execute(statement)


def wait_until_sent(engine: Engine, timeout: float = 120.0, poll: float = 0.1) -> int:
    """Block until no single message waits to be handed to a carrier (the demo, before its report);
    returns how many still wait when `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as connection:
            waiting = connection.execute(select(func.count()).select_from(SmsMessage).join(
                SmsCampaign, SmsCampaign.id == SmsMessage.campaign_id).where(
                SmsCampaign.kind == CampaignKind.TRANSACTIONAL,
                col(SmsMessage.state).in_((MessageState.QUEUED, MessageState.SUBMITTED)))).scalar_one()
        if waiting == 0 or time.monotonic() > deadline:
            return int(waiting)
        time.sleep(poll)
