"""escalation: indexes in the queue's order (level rank, created_at, id), which its keyset pages walk

Revision ID: 0018
Revises: 0017

The queue sorts by urgency (a CASE over the level: robocall.models.level_rank_sql), then age.  With an
index on that expression a page reads its rows in order and stops, instead of sorting every matching case
(the whole table for `status=all`): one for every case, one partial for the unresolved ones (the default
view).  The expression is written out here as it was at this revision: a later LEVEL_ORDER needs its own
migration, or the queries would no longer match the index.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0018'
down_revision: Union[str, Sequence[str], None] = '0017'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

RANK = ("CASE level WHEN 'urgent' THEN 0 WHEN 'test' THEN 1 WHEN 'callback' THEN 2 WHEN 'watch' THEN 3 "
        "WHEN 'home_visit' THEN 4 WHEN 'report' THEN 5 ELSE 6 END")
UNRESOLVED = "status IN ('open', 'acknowledged')"


def upgrade() -> None:
    op.create_index('ix_escalation_queue_order', 'escalation', [sa.text(f"({RANK})"), 'created_at', 'id'], unique=False)
    op.create_index('ix_escalation_queue_unresolved', 'escalation', [sa.text(f"({RANK})"), 'created_at', 'id'], unique=False,
                    sqlite_where=sa.text(UNRESOLVED), postgresql_where=sa.text(UNRESOLVED))


def downgrade() -> None:
    op.drop_index('ix_escalation_queue_unresolved', table_name='escalation')
    op.drop_index('ix_escalation_queue_order', table_name='escalation')
