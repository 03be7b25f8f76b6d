"""call leases: callattempt.lease_until and callattempt.dispatch (abandoned calls handed out again)

Revision ID: 0016
Revises: 0015
"""
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0016'
down_revision: Union[str, Sequence[str], None] = '0015'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('callattempt') as batch:
        batch.add_column(sa.Column('lease_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column('dispatch', sa.Integer(), nullable=False, server_default='0'))
    # A dial tick looks up the calls already planned in its window (a tick run again after its worker died).
    op.create_index('ix_callattempt_queued_at', 'callattempt', ['queued_at'])


def downgrade() -> None:
    op.drop_index('ix_callattempt_queued_at', table_name='callattempt')
    with op.batch_alter_table('callattempt') as batch:
        batch.drop_column('dispatch')
        batch.drop_column('lease_until')
