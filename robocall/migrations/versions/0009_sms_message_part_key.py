"""sms: smsmessagepart is keyed by what receipts look up (gateway, carrier id, part, message)

Its serial id and the separate (gateway, gateway_message_id) index made two indexes and a
sequence to write for every accepted message; the natural key is one.  Rows repeated by an
earlier version (the same message, part and carrier id twice) are dropped first.

Revision ID: 0009
Revises: 0008
"""
from typing import Sequence, Union

from alembic import op

revision: str = '0009'
down_revision: Union[str, Sequence[str], None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_KEY = ['gateway', 'gateway_message_id', 'part', 'message_id']


def upgrade() -> None:
    op.execute("DELETE FROM smsmessagepart WHERE id NOT IN (SELECT min(id) FROM smsmessagepart"
               " GROUP BY gateway, gateway_message_id, part, message_id)")
    op.drop_index('ix_smsmessagepart_gateway_message', table_name='smsmessagepart')
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_constraint('smsmessagepart_pkey', 'smsmessagepart', type_='primary')
        op.drop_column('smsmessagepart', 'id')
        op.create_primary_key('smsmessagepart_pkey', 'smsmessagepart', _KEY)
    else:  # SQLite rebuilds the table
        with op.batch_alter_table('smsmessagepart', recreate='always') as batch:
            batch.drop_column('id')
            batch.create_primary_key('pk_smsmessagepart', _KEY)


def downgrade() -> None:
    import sqlalchemy as sa

    op.create_table('smsmessagepart_old',
                    sa.Column('id', sa.Integer(), primary_key=True),
                    sa.Column('message_id', sa.Integer(), nullable=False),
                    sa.Column('gateway', sa.String(), nullable=False),
                    sa.Column('gateway_message_id', sa.String(), nullable=False),
                    sa.Column('part', sa.Integer(), nullable=False))
    op.execute("INSERT INTO smsmessagepart_old (message_id, gateway, gateway_message_id, part)"
               " SELECT message_id, gateway, gateway_message_id, part FROM smsmessagepart")
    op.drop_table('smsmessagepart')
    op.rename_table('smsmessagepart_old', 'smsmessagepart')
    op.create_index('ix_smsmessagepart_gateway_message', 'smsmessagepart', ['gateway', 'gateway_message_id'],
                    unique=False)
