"""An SMS campaign's messages counted by carrier and state: the one count behind the figures of the
CLI and the SMS API (sms.campaigns.figures) and of the dashboard's pages (robocall.web.sms_stats)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlmodel import col

from robocall.sms_models import SmsMessage

UNKNOWN_CARRIER = "unknown"  # messages whose number matched no carrier


def counts_by_carrier(connection: Connection, campaign_id: int) -> dict[str, dict[str, int]]:
    """{carrier: {state: messages}} for one campaign."""
    carrier_, state_ = col(SmsMessage.carrier), col(SmsMessage.state)
    rows = connection.execute(select(carrier_, state_, func.count())
                              .where(col(SmsMessage.campaign_id) == campaign_id)
                              .group_by(carrier_, state_)).all()
    by_carrier: dict[str, dict[str, int]] = {}
    for carrier, state, count in rows:
        states = by_carrier.setdefault(carrier or UNKNOWN_CARRIER, {})
        states[state] = states.get(state, 0) + count
    return by_carrier


def counts_by_state(by_carrier: dict[str, dict[str, int]]) -> dict[str, int]:
    """The per-carrier counts summed over the carriers."""
    totals: dict[str, int] = {}
    for states in by_carrier.values():
        for state, count in states.items():
            totals[state] = totals.get(state, 0) + count
    return totals
