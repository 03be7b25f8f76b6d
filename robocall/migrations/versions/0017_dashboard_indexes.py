"""dashboard indexes: what bench/explain_dashboard.py found the pages scanning at a million contacts

Revision ID: 0017
Revises: 0016

- escalation (status, level, created_at): the queue's counts per level and overdue cases, /metrics;
- escalation (assignee, status): the queue's "my cases";
- followup (campaign_id, state) and (campaign_id, day): a campaign's progress and period;
- callattempt (campaign_id, day, answered_at): a campaign's calls per day, read from the index alone;
- contact (district, category): a district officer's filter choices, district by district
  (robocall.web.escalation_queries.distinct_values; the communes are read from 0015's
  ix_contact_list_order, whose prefix is (district, commune));
- auditlog (actor, id) and (action, id): the audit page filtered, newest first;
- smsmessage (queued_at) where purpose <> '': the single messages (replies, advice) of a period and of the
  transactional campaign.  Only single messages are in it: a campaign's list (COPY) writes no more index
  entries, and neither column changes after the insert, so the updates of sending stay HOT.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0017'
down_revision: Union[str, Sequence[str], None] = '0016'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_SINGLE = "purpose <> ''"
INDEXES = [
    ("ix_escalation_status_level_created", "escalation", ["status", "level", "created_at"], None),
    ("ix_escalation_assignee_status", "escalation", ["assignee", "status"], None),
    ("ix_followup_campaign_state", "followup", ["campaign_id", "state"], None),
    ("ix_followup_campaign_day", "followup", ["campaign_id", "day"], None),
    ("ix_callattempt_campaign_day_answered", "callattempt", ["campaign_id", "day", "answered_at"], None),
    ("ix_contact_district_category", "contact", ["district", "category"], None),
    ("ix_auditlog_actor_id", "auditlog", ["actor", "id"], None),
    ("ix_auditlog_action_id", "auditlog", ["action", "id"], None),
    ("ix_smsmessage_single_queued_at", "smsmessage", ["queued_at"], _SINGLE),
]


def upgrade() -> None:
    for name, table, columns, where in INDEXES:
        where_clause = {"sqlite_where": sa.text(where), "postgresql_where": sa.text(where)} if where else {}
        op.create_index(name, table, columns, unique=False, **where_clause)


def downgrade() -> None:
    for name, table, _, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
