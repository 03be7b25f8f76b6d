"""An SMS campaign's messages counted by carrier and state: the one count behind the figures of the
CLI and the SMS API (sms.campaigns.figures) and of the dashboard's pages (robocall.web.sms_stats)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlmodel import col

from robocall.sms_models import CampaignKind, SmsCampaign, SmsMessage, list_messages, single_messages

UNKNOWN_CARRIER = "unknown"  # messages whose number matched no carrier


def campaign_messages(connection: Connection, campaign_id: int) -> list[Any]:
    """Conditions selecting one campaign's messages that walk an index, not the whole table: a list's
    messages lie between the ids its load spans (`loaded_from`, `loaded_up_to`: a range of the key), the
    transactional campaign's are the single messages (their partial index).  smsmessage has no index on
    campaign_id, by design (its updates stay HOT): `campaign_id = X` alone reads every message."""
    conditions: list[Any] = [col(SmsMessage.campaign_id) == campaign_id]
    row = connection.execute(select(col(SmsCampaign.kind), col(SmsCampaign.loaded_from), col(SmsCampaign.loaded_up_to))
                             .where(col(SmsCampaign.id) == campaign_id)).first()
    if row is None:
        return conditions
    if row.kind == CampaignKind.TRANSACTIONAL:
        conditions.append(single_messages())
    elif row.loaded_from is not None and row.loaded_up_to is not None:  # every campaign since migration 0010
        conditions += [list_messages(), col(SmsMessage.id) > row.loaded_from, col(SmsMessage.id) <= row.loaded_up_to]
    return conditions


def counts_by_carrier(connection: Connection, campaign_id: int) -> dict[str, dict[str, int]]:
    """{carrier: {state: messages}} for one campaign."""
    carrier_, state_ = col(SmsMessage.carrier), col(SmsMessage.state)
    rows = connection.execute(select(carrier_, state_, func.count())
                              .where(*campaign_messages(connection, campaign_id))
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
