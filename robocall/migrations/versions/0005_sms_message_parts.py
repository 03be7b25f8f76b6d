"""sms: carrier ids of the parts 2..n of long messages (their receipts find their message); messages
change state without index writes (no index on state; room left on each page for PostgreSQL's HOT updates)

Revision ID: 0005
Revises: 0004
"""
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (column types)
from alembic import op

revision: str = '0005'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('smsmessagepart',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('gateway', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('gateway_message_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('part', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['smsmessage.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_smsmessagepart_gateway_message', 'smsmessagepart', ['gateway', 'gateway_message_id'],
                    unique=False)
    op.drop_index('ix_smsmessage_campaign_state', table_name='smsmessage')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE smsmessage SET (fillfactor = 70)')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE smsmessage RESET (fillfactor)')
    op.create_index('ix_smsmessage_campaign_state', 'smsmessage', ['campaign_id', 'state'], unique=False)
    op.drop_index('ix_smsmessagepart_gateway_message', table_name='smsmessagepart')
    op.drop_table('smsmessagepart')
