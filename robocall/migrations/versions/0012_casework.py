"""casework: callbacks as follow-ups of a case (escalation_id, flow), the call's follow-up, case tasks,
users' districts

Revision ID: 0012
Revises: 0011
"""
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0012'
down_revision: Union[str, Sequence[str], None] = '0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = '0003'  # the user table (accounts branch)

DAILY = sa.text("escalation_id IS NULL")


def upgrade() -> None:
    with op.batch_alter_table('followup') as batch:
        batch.add_column(sa.Column('escalation_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('flow', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=''))
        batch.create_foreign_key('fk_followup_escalation_id_escalation', 'escalation', ['escalation_id'], ['id'])
        batch.create_index('ix_followup_escalation_id', ['escalation_id'])
        batch.drop_constraint('one_follow_up_per_contact_per_day', type_='unique')
    # Only the daily follow-ups are one per contact and day; a case's callbacks come beside them.
    op.create_index('one_follow_up_per_contact_per_day', 'followup', ['contact_id', 'day'], unique=True,
                    sqlite_where=DAILY, postgresql_where=DAILY)
    with op.batch_alter_table('callattempt') as batch:
        batch.add_column(sa.Column('follow_up_id', sa.Integer(), nullable=True))
        batch.create_index('ix_callattempt_follow_up_id', ['follow_up_id'])
    with op.batch_alter_table('user') as batch:
        batch.add_column(sa.Column('districts', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=''))
    op.create_table(
        'casetask',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('escalation_id', sa.Integer(), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('due_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('assignee', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('flow', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('follow_up_id', sa.Integer(), nullable=True),
        sa.Column('state', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('result', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('done_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['escalation_id'], ['escalation.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    for column in ('escalation_id', 'due_at', 'follow_up_id', 'state'):
        op.create_index(f'ix_casetask_{column}', 'casetask', [column])


def downgrade() -> None:
    op.drop_table('casetask')
    with op.batch_alter_table('user') as batch:
        batch.drop_column('districts')
    with op.batch_alter_table('callattempt') as batch:
        batch.drop_index('ix_callattempt_follow_up_id')
        batch.drop_column('follow_up_id')
    op.drop_index('one_follow_up_per_contact_per_day', 'followup')
    op.execute("DELETE FROM followup WHERE escalation_id IS NOT NULL")
    with op.batch_alter_table('followup') as batch:
        batch.create_unique_constraint('one_follow_up_per_contact_per_day', ['contact_id', 'day'])
        batch.drop_index('ix_followup_escalation_id')
        batch.drop_constraint('fk_followup_escalation_id_escalation', type_='foreignkey')
        batch.drop_column('flow')
        batch.drop_column('escalation_id')
