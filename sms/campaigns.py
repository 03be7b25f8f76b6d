"""SMS campaigns in the database: create (load the list), dry run, pause, resume, cancel, figures.

Creating a campaign streams the list through :func:`sms.prepare.prepare` and
writes messages in chunks with bulk ``INSERT``s; nothing is sent here.
Sending is :mod:`sms.fanout` (RQ jobs) and :mod:`sms.send` (one batch).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from robocall.models import utcnow
from robocall.optouts import opted_out_numbers
from robocall.sms_figures import counts_by_carrier, counts_by_state
from robocall.sms_models import (
    FINAL_STATES,
    CampaignKind,
    CampaignStatus,
    MessageState,
    SmsCampaign,
    SmsInvalidRecipient,
    SmsMessage,
)
from robocall.sms_routing import Router, ported_carriers
from robocall.text import GSM7, measure, strip_accents
from sms.prepare import DUPLICATE, OPTED_OUT, Prepared, Rejected, Template, prepare
from sms.recipients import Recipient

CHUNK = 10_000


class CampaignError(ValueError):
    pass


@dataclass
class Tally:
    """What a list gave: messages (with their segments, per carrier), duplicates, opt-outs, invalid rows."""

    recipients: int = 0
    duplicates: int = 0
    invalid: int = 0
    opted_out: int = 0
    segments: int = 0
    by_carrier: Counter[str] = field(default_factory=Counter)
    invalid_reasons: Counter[str] = field(default_factory=Counter)

    def count(self, item: Prepared | Rejected) -> None:
        if isinstance(item, Prepared):
            self.recipients += 1
            self.segments += item.segments
            self.by_carrier[item.carrier or "unknown"] += 1
        elif item.reason == DUPLICATE:
            self.duplicates += 1
        elif item.reason == OPTED_OUT:
            self.opted_out += 1
        else:
            self.invalid += 1
            self.invalid_reasons[item.reason] += 1


@dataclass
class LoadSummary(Tally):
    campaign_id: int = field(kw_only=True)


def create_campaign(engine: Engine, recipients: Iterable[Recipient], template: Template, router: Router, *,
                    name: str = "", source: str = "", send_at: dt.datetime | None = None,
                    now: dt.datetime | None = None, stream: bool = False,
                    on_created: Callable[[int], None] | None = None) -> LoadSummary:
    """Write the campaign and its messages; it ends `running` (or `scheduled` when send_at is later).

    While the list loads the campaign is `paused`, so nothing of a half-loaded list goes out; with
    `stream` it is `loading` instead, and what is loaded may already be sent (drive() sends it as it
    comes, a chunk of CHUNK rows at a time): a million numbers start going out within seconds.
    A cancel during the load stops it.  A load that fails leaves the campaign `paused` with what was
    loaded (resume sends it).  `on_created(campaign_id)` is called once the campaign row exists."""
    now = now or utcnow()
    later = bool(send_at and send_at > now)
    final = CampaignStatus.SCHEDULED if later else CampaignStatus.RUNNING
    loading = CampaignStatus.LOADING if stream and not later else CampaignStatus.PAUSED
    with engine.begin() as connection:
        campaign_id = connection.execute(insert(SmsCampaign).values(
            name=name, template=template.source, strip_accents=template.strip, source=source,
            status=loading, send_at=send_at, created_at=now,
        ).returning(SmsCampaign.id)).scalar_one()
        blocked = opted_out_numbers(connection)
        ported = ported_carriers(connection)
        # No message of this campaign will have an id up to the highest one so far (see flush).
        highest = select(func.coalesce(func.max(SmsMessage.id), 0)).scalar_subquery()
        connection.execute(update(SmsCampaign).where(SmsCampaign.id == campaign_id).values(
            loaded_from=highest, loaded_up_to=highest))
    if on_created is not None:
        on_created(campaign_id)
    summary = LoadSummary(campaign_id=campaign_id)
    queued = MessageState.QUEUED.value
    queued_at = _copy_value(engine, now)
    messages: list[tuple[object, ...]] = []  # in _MESSAGE_COLUMNS order
    invalid: list[dict[str, object]] = []

    def flush() -> bool:
        """Write what was read; False when the campaign was cancelled meanwhile (stop reading)."""
        with engine.begin() as connection:
            if messages:
                _insert_messages(connection, messages)
            if invalid:
                connection.execute(insert(SmsInvalidRecipient), invalid)
            # Whoever sends while the list loads cuts its batches by id up to here, with no query over the
            # messages (each id is one of ours or another campaign's, which a batch leaves alone).
            status = connection.execute(update(SmsCampaign).where(SmsCampaign.id == campaign_id).values(
                loaded_up_to=select(func.max(SmsMessage.id)).scalar_subquery()).returning(SmsCampaign.status)).scalar()
        messages.clear()
        invalid.clear()
        return status != CampaignStatus.CANCELLED

    try:
        for item in prepare(recipients, template, router, blocked, ported):
            summary.count(item)
            if isinstance(item, Prepared):
                messages.append((campaign_id, item.phone, item.carrier, item.gateway, item.text, "", item.encoding,
                                 item.segments, queued, 0, "", queued_at))
            elif item.reason not in (DUPLICATE, OPTED_OUT):
                invalid.append({"campaign_id": campaign_id, "row": item.row, "value": item.value[:100],
                                "reason": item.reason})
            if (len(messages) >= CHUNK or len(invalid) >= CHUNK) and not flush():
                break
        else:
            flush()
    except BaseException:
        try:
            flush()  # the rows read so far are good: keep them
        finally:
            _end_load(engine, summary, loading, CampaignStatus.PAUSED)
        raise
    _end_load(engine, summary, loading, final)
    return summary


def _end_load(engine: Engine, summary: LoadSummary, loading: CampaignStatus, final: CampaignStatus) -> None:
    """Write the list's figures; the status becomes `final` unless someone changed it meanwhile."""
    with engine.begin() as connection:
        status = connection.execute(update(SmsCampaign).where(SmsCampaign.id == summary.campaign_id).values(
            status=case((SmsCampaign.status == loading, final), else_=SmsCampaign.status),
            recipients=summary.recipients, duplicates=summary.duplicates,
            invalid=summary.invalid, opted_out=summary.opted_out).returning(SmsCampaign.status)).scalar()
        if status == CampaignStatus.CANCELLED:  # rows written after the cancel
            connection.execute(update(SmsMessage).where(
                SmsMessage.campaign_id == summary.campaign_id, SmsMessage.state == MessageState.QUEUED,
            ).values(state=MessageState.EXPIRED, reason="campaign cancelled", done_at=utcnow()))


_MESSAGE_COLUMNS = ("campaign_id", "phone", "carrier", "gateway", "text", "purpose", "encoding", "segments",
                    "state", "attempts", "reason", "queued_at")


def _copy_value(engine: Engine, at: dt.datetime) -> object:
    """`at` as _insert_messages writes it: for COPY, text formatted once (psycopg would format the
    datetime again for every row, most of a row's cost); SQLite's DateTime takes only datetimes."""
    return at.isoformat(sep=" ") if engine.dialect.name == "postgresql" else at


def _insert_messages(connection: Connection, rows: list[tuple[object, ...]]) -> None:
    if connection.dialect.name == "postgresql":
        # COPY: a million rows load in seconds; INSERT ... VALUES costs a statement's parsing per chunk
        # and SQLAlchemy's processing per value.  Same transaction (the driver's own connection).
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(
                f"COPY smsmessage ({', '.join(_MESSAGE_COLUMNS)}) FROM STDIN") as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row(row)
        return
    connection.execute(insert(SmsMessage), [dict(zip(_MESSAGE_COLUMNS, row)) for row in rows])


@dataclass
class DryRun(Tally):
    segments_stripped: int = 0
    by_encoding: Counter[str] = field(default_factory=Counter)
    example: str = ""

    def cost(self, per_segment: float, stripped: bool = False) -> float:
        return (self.segments_stripped if stripped else self.segments) * per_segment


def dry_run(engine: Engine | None, recipients: Iterable[Recipient], template: Template, router: Router) -> DryRun:
    """What a campaign would send, with segments counted as given and with accents stripped."""
    blocked: set[str] = set()
    ported: dict[str, str] = {}
    if engine is not None:
        with engine.connect() as connection:
            blocked, ported = opted_out_numbers(connection), ported_carriers(connection)
    result = DryRun()
    fixed_stripped: int | None = None  # the template as is: measured stripped once
    for item in prepare(recipients, template, router, blocked, ported):
        result.count(item)
        if isinstance(item, Rejected):
            continue
        text = item.text if item.text is not None else template.fixed or ""
        result.by_encoding[item.encoding] += 1
        if not result.example:
            result.example = text
        if item.encoding == GSM7:
            result.segments_stripped += item.segments
        elif item.text is not None:
            result.segments_stripped += measure(strip_accents(text)).segments
        else:
            if fixed_stripped is None:
                fixed_stripped = measure(strip_accents(text)).segments
            result.segments_stripped += fixed_stripped
    return result


# --- control ---------------------------------------------------------------------


def set_status(engine: Engine, campaign_id: int, status: CampaignStatus) -> SmsCampaign:
    """Pause, resume or cancel.  Cancelling expires the messages not yet handed to a carrier."""
    allowed = {
        # Not while `loading`: its loader sets the status when the list is in (and stops on a cancel).
        CampaignStatus.PAUSED: (CampaignStatus.RUNNING, CampaignStatus.SCHEDULED),
        # From `loading` only when the process loading it has died: sends what was loaded.
        CampaignStatus.RUNNING: (CampaignStatus.PAUSED, CampaignStatus.RUNNING, CampaignStatus.FINISHED,
                                 CampaignStatus.SCHEDULED, CampaignStatus.LOADING),
        CampaignStatus.CANCELLED: (CampaignStatus.RUNNING, CampaignStatus.PAUSED, CampaignStatus.SCHEDULED,
                                   CampaignStatus.LOADING),
    }[status]
    now = utcnow()
    with engine.begin() as connection:
        campaign = connection.execute(select(SmsCampaign).where(SmsCampaign.id == campaign_id)).first()
        if campaign is None:
            raise CampaignError(f"no SMS campaign {campaign_id}")
        if campaign.status not in allowed:
            verb = {CampaignStatus.PAUSED: "pause", CampaignStatus.RUNNING: "resume"}.get(status, "cancel")
            raise CampaignError(f"campaign {campaign_id} is {campaign.status}: cannot {verb} it")
        if status == CampaignStatus.CANCELLED and campaign.kind == CampaignKind.TRANSACTIONAL:
            # Cancelling would leave replies and health notices nowhere to go; pausing holds them.
            raise CampaignError(f"campaign {campaign_id} holds the single messages (replies, health notices): "
                                "pause it instead")
        values: dict[str, object] = {"status": status}
        if status == CampaignStatus.CANCELLED:
            values["finished_at"] = now
            connection.execute(update(SmsMessage).where(
                SmsMessage.campaign_id == campaign_id, SmsMessage.state == MessageState.QUEUED,
            ).values(state=MessageState.EXPIRED, reason="campaign cancelled", done_at=now))
        connection.execute(update(SmsCampaign).where(SmsCampaign.id == campaign_id).values(**values))
    return get_campaign(engine, campaign_id)


def loading_progress(engine: Engine, campaign_id: int) -> tuple[str | None, int | None, int | None]:
    """(status, loaded_from, loaded_up_to) of a campaign: its messages have ids above loaded_from, and
    every one up to loaded_up_to is written (None, None: nothing loaded yet, or no such campaign)."""
    with engine.connect() as connection:
        row = connection.execute(select(SmsCampaign.status, SmsCampaign.loaded_from, SmsCampaign.loaded_up_to).where(
            SmsCampaign.id == campaign_id)).first()
    return (row.status, row.loaded_from, row.loaded_up_to) if row else (None, None, None)


def get_campaign(engine: Engine, campaign_id: int) -> SmsCampaign:
    with Session(engine) as db:
        campaign = db.get(SmsCampaign, campaign_id)
        if campaign is None:
            raise CampaignError(f"no SMS campaign {campaign_id}")
        db.expunge(campaign)
        return campaign


@dataclass
class CampaignFigures:
    campaign_id: int
    status: str
    recipients: int
    invalid: int
    duplicates: int
    opted_out: int
    by_state: dict[str, int]
    by_carrier: dict[str, dict[str, int]]

    @property
    def outstanding(self) -> int:
        """Messages not yet taken by a carrier nor given up."""
        return self.by_state.get(MessageState.QUEUED, 0) + self.by_state.get(MessageState.SUBMITTED, 0)

    @property
    def finished(self) -> int:
        return sum(self.by_state.get(s, 0) for s in FINAL_STATES)

    def to_json(self) -> dict[str, object]:
        return {"id": self.campaign_id, "status": self.status, "recipients": self.recipients,
                "invalid": self.invalid, "duplicates": self.duplicates, "opted_out": self.opted_out,
                "by_state": self.by_state, "by_carrier": self.by_carrier}


def figures(engine: Engine, campaign_id: int) -> CampaignFigures:
    campaign = get_campaign(engine, campaign_id)
    with engine.connect() as connection:
        by_carrier = counts_by_carrier(connection, campaign_id)
    return CampaignFigures(campaign_id, campaign.status, campaign.recipients, campaign.invalid,
                           campaign.duplicates, campaign.opted_out, counts_by_state(by_carrier), by_carrier)


def list_campaigns(engine: Engine) -> list[SmsCampaign]:
    with Session(engine) as db:
        campaigns = list(db.exec(select(SmsCampaign).order_by(SmsCampaign.id)).scalars())  # type: ignore[call-overload]
        for c in campaigns:
            db.expunge(c)
        return campaigns


def invalid_recipients(engine: Engine, campaign_id: int, limit: int = 1000) -> list[tuple[int, str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(select(SmsInvalidRecipient.row, SmsInvalidRecipient.value,
                                         SmsInvalidRecipient.reason)
                                  .where(SmsInvalidRecipient.campaign_id == campaign_id)
                                  .order_by(SmsInvalidRecipient.row).limit(limit)).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]
