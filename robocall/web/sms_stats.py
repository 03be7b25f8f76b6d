"""SMS campaign figures for the dashboard pages (/sms-campaigns).  The per-carrier counts come from
robocall.sms_figures, the same count as the CLI's and the SMS API's figures (sms.campaigns)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func
from sqlmodel import Session as DbSession
from sqlmodel import col, select

from robocall.sms_figures import campaign_messages, counts_by_carrier, counts_by_state
from robocall.sms_models import SENT_STATES, MessageState, SmsCampaign, SmsMessage

# Columns of the per-carrier table, in the order a message goes through them.
STATES = ("queued", "submitted", "accepted", "delivered", "failed", "expired")


@dataclass
class CarrierFigures:
    carrier: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def delivery_rate(self) -> float:
        """Delivered out of all this carrier's messages of the campaign."""
        return self.counts.get("delivered", 0) / self.total if self.total else 0.0


@dataclass
class SmsCampaignRow:
    id: int
    name: str
    status: str
    created_at: dt.datetime
    recipients: int
    sent: int = 0  # the carrier took it: accepted or delivered (as the report counts)
    delivered: int = 0
    failed: int = 0


@dataclass
class SmsCampaignDetail:
    id: int
    name: str
    kind: str
    status: str
    template: str
    strip_accents: bool
    source: str
    created_at: dt.datetime
    send_at: dt.datetime | None
    finished_at: dt.datetime | None
    recipients: int
    duplicates: int
    opted_out: int
    invalid: int
    messages: int = 0
    segments: int = 0
    min_segments: int = 0
    max_segments: int = 0
    encodings: list[str] = field(default_factory=list)
    carriers: list[CarrierFigures] = field(default_factory=list)
    totals: CarrierFigures = field(default_factory=lambda: CarrierFigures(""))


def list_sms_campaigns(db: DbSession) -> list[SmsCampaignRow]:
    rows = [SmsCampaignRow(id=c.id or 0, name=c.name, status=c.status, created_at=c.created_at,
                           recipients=c.recipients)
            for c in db.exec(select(SmsCampaign).order_by(col(SmsCampaign.id).desc())).all()]
    by_id = {r.id: r for r in rows}
    # One pass over every message: every campaign's figures are wanted, so reading the table whole is the
    # plan (a walk along each campaign's span of ids, tried, was slower: docs/performance.md).
    counts = db.exec(select(SmsMessage.campaign_id, SmsMessage.state, func.count())
                     .group_by(SmsMessage.campaign_id, SmsMessage.state)).all()
    for campaign_id, state, count in counts:
        row = by_id.get(campaign_id)
        if row is None:
            continue
        if state in SENT_STATES:
            row.sent += count
        if state == MessageState.DELIVERED:
            row.delivered += count
        elif state == MessageState.FAILED:
            row.failed += count
    return rows


def sms_campaign_detail(db: DbSession, campaign_id: int) -> SmsCampaignDetail | None:
    campaign = db.get(SmsCampaign, campaign_id)
    if campaign is None:
        return None
    detail = SmsCampaignDetail(
        id=campaign.id or 0, name=campaign.name, kind=campaign.kind, status=campaign.status, template=campaign.template,
        strip_accents=campaign.strip_accents, source=campaign.source, created_at=campaign.created_at,
        send_at=campaign.send_at, finished_at=campaign.finished_at, recipients=campaign.recipients,
        duplicates=campaign.duplicates, opted_out=campaign.opted_out, invalid=campaign.invalid)
    where = campaign_messages(db.connection(), campaign_id)
    count, segments, low, high = db.exec(select(func.count(), func.sum(SmsMessage.segments),
                                                func.min(SmsMessage.segments), func.max(SmsMessage.segments))
                                         .where(*where)).one()
    detail.messages, detail.segments = int(count or 0), int(segments or 0)
    detail.min_segments, detail.max_segments = int(low or 0), int(high or 0)
    detail.encodings = sorted(e for e in db.exec(select(SmsMessage.encoding).where(*where).distinct()).all() if e)
    by_carrier = counts_by_carrier(db.connection(), campaign_id)
    detail.carriers = [CarrierFigures(name, by_carrier[name]) for name in sorted(by_carrier)]
    detail.totals = CarrierFigures("", counts_by_state(by_carrier))
    return detail


def count_sms_campaigns(db: DbSession) -> int:
    return int(db.exec(select(func.count()).select_from(SmsCampaign)).one())
