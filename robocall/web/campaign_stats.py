"""Campaign progress counted from the database: follow-ups, calls and escalations per day.

SMS campaigns will live in sms/; their pages plug in through `EXTRA_CAMPAIGN_SECTIONS`
(robocall/web/routes/campaigns.py) without touching the call campaign code here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, func
from sqlmodel import Session as DbSession
from sqlmodel import col, select

from robocall.models import (
    CallAttempt,
    CallCampaign,
    Contact,
    Escalation,
    FollowUp,
    FollowUpState,
)
from robocall.web.scope import WHOLE_PROVINCE, Scope


@dataclass
class CampaignStats:
    id: int
    name: str
    flow: str
    categories: str
    status: str
    follow_ups: int = 0
    reached: int = 0
    unreached: int = 0
    attempts: int = 0
    answered: int = 0
    escalations: int = 0
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    calls_per_day: list[tuple[dt.date, int, int]] = field(default_factory=list)  # day, attempts, answered
    escalations_per_day: list[tuple[dt.date, int]] = field(default_factory=list)

    @property
    def answer_rate(self) -> float:
        return self.answered / self.attempts if self.attempts else 0.0

    @property
    def progress(self) -> float:
        """Share of the planned follow-ups that are over (reached or unreached for the day)."""
        return (self.reached + self.unreached) / self.follow_ups if self.follow_ups else 0.0

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k not in {"calls_per_day", "escalations_per_day"}}
        data["first_day"] = self.first_day.isoformat() if self.first_day else None
        data["last_day"] = self.last_day.isoformat() if self.last_day else None
        data["answer_rate"] = round(self.answer_rate, 4)
        data["progress"] = round(self.progress, 4)
        data["calls_per_day"] = [{"day": d.isoformat(), "attempts": a, "answered": n} for d, a, n in self.calls_per_day]
        data["escalations_per_day"] = [{"day": d.isoformat(), "escalations": n} for d, n in self.escalations_per_day]
        return data


def _every_day(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _real_status(db: DbSession, campaign: CallCampaign, today: dt.date | None) -> str:
    """An "active" campaign is finished once nobody it calls is still monitored and no follow-up is
    left to call: the stored status only says the dialer may plan it, not that there is work left."""
    if campaign.status != "active" or today is None:
        return campaign.status
    categories = [c.strip() for c in campaign.categories.split(",") if c.strip()]
    monitored = db.exec(select(func.count()).select_from(Contact).where(
        col(Contact.category).in_(categories), Contact.opted_out == False,  # noqa: E712
        col(Contact.monitoring_end) >= today)).one()
    open_follow_ups = db.exec(select(func.count()).select_from(FollowUp).where(
        FollowUp.campaign_id == campaign.id,
        col(FollowUp.state).in_([FollowUpState.PENDING, FollowUpState.CALLING]))).one()
    return "active" if monitored or open_follow_ups else "finished"


def campaign_stats(db: DbSession, campaign: CallCampaign, per_day: bool = False,
                   today: dt.date | None = None, scope: Scope = WHOLE_PROVINCE) -> CampaignStats:
    """`today` (the local day) lets the status say "finished" for a campaign with nothing left to do.
    Every figure counts the people of `scope` (a district officer's districts); the status is the campaign's."""
    assert campaign.id is not None
    stats = CampaignStats(id=campaign.id, name=campaign.name, flow=campaign.flow, categories=campaign.categories,
                          status=_real_status(db, campaign, today))
    follow_ups = [FollowUp.campaign_id == campaign.id, *scope.of_contact(FollowUp.contact_id)]
    calls = [CallAttempt.campaign_id == campaign.id, *scope.of_contact(CallAttempt.contact_id)]
    states = dict(db.exec(select(FollowUp.state, func.count()).where(*follow_ups)
                          .group_by(FollowUp.state)).all())
    stats.follow_ups = sum(states.values())
    stats.reached = states.get(FollowUpState.REACHED, 0)
    stats.unreached = states.get(FollowUpState.UNREACHED, 0)
    stats.first_day, stats.last_day = db.exec(select(func.min(FollowUp.day), func.max(FollowUp.day))
                                              .where(*follow_ups)).one()
    answered = func.sum(func.cast(col(CallAttempt.answered_at).is_not(None), Integer))
    days = db.exec(select(CallAttempt.day, func.count(), answered).where(*calls)
                   .group_by(CallAttempt.day).order_by(CallAttempt.day)).all()
    stats.calls_per_day = [(d, a, int(n or 0)) for d, a, n in days]
    stats.attempts = sum(a for _, a, _ in stats.calls_per_day)
    stats.answered = sum(n for _, _, n in stats.calls_per_day)
    # An escalation belongs to the campaign whose call raised it (home visits have no call: they are
    # counted on the queue and the report, not here).
    esc = db.exec(select(CallAttempt.day, func.count()).select_from(Escalation)
                  .join(CallAttempt, col(CallAttempt.id) == Escalation.attempt_id)
                  .where(*calls, *scope.of_contact(Escalation.contact_id))
                  .group_by(CallAttempt.day).order_by(CallAttempt.day)).all()
    stats.escalations_per_day = [(d, n) for d, n in esc]
    stats.escalations = sum(n for _, n in stats.escalations_per_day)
    # Every day of the period on both series, zeros included, so the two charts share one x axis.
    known = [d for d in (stats.first_day, stats.last_day) if d] + [d for d, _, _ in stats.calls_per_day]
    if known:
        calls = {d: (a, n) for d, a, n in stats.calls_per_day}
        escalations = dict(stats.escalations_per_day)
        period = _every_day(min(known), max(known))
        stats.calls_per_day = [(d, *calls.get(d, (0, 0))) for d in period]
        stats.escalations_per_day = [(d, escalations.get(d, 0)) for d in period]
    if not per_day:
        stats.calls_per_day, stats.escalations_per_day = [], []
    return stats


def all_campaigns(db: DbSession, today: dt.date | None = None, scope: Scope = WHOLE_PROVINCE) -> list[CampaignStats]:
    return [campaign_stats(db, c, today=today, scope=scope)
            for c in db.exec(select(CallCampaign).order_by(CallCampaign.id)).all()]


def campaign_by_id(db: DbSession, campaign_id: int, per_day: bool = True,
                   today: dt.date | None = None, scope: Scope = WHOLE_PROVINCE) -> CampaignStats | None:
    campaign = db.get(CallCampaign, campaign_id)
    return campaign_stats(db, campaign, per_day=per_day, today=today, scope=scope) if campaign is not None else None
