"""sms: receipts are matched through smsmessagepart, which now holds part 1 too; smsmessage keeps no
index on gateway_message_id or accepted_at, so accepting a message is a HOT update on PostgreSQL

Revision ID: 0006
Revises: 0005
"""
from typing import Sequence, Union

from alembic import op

_SQLITE_NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}

revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # Receipts of messages accepted before the upgrade must still find them.
    op.execute("INSERT INTO smsmessagepart (message_id, gateway, gateway_message_id, part)"
               " SELECT id, gateway, gateway_message_id, 1 FROM smsmessage WHERE gateway_message_id IS NOT NULL")
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_constraint('smsmessagepart_message_id_fkey', 'smsmessagepart', type_='foreignkey')
    else:  # SQLite rebuilds the table; its key has no name, the convention gives it one
        with op.batch_alter_table('smsmessagepart', naming_convention=_SQLITE_NAMES) as batch:
            batch.drop_constraint('fk_smsmessagepart_message_id_smsmessage', type_='foreignkey')
    op.drop_index('ix_smsmessage_gateway_message', table_name='smsmessage')
    op.drop_index('ix_smsmessage_accepted_at', table_name='smsmessage')


def downgrade() -> None:
    op.create_index('ix_smsmessage_accepted_at', 'smsmessage', ['accepted_at'], unique=False)
    op.create_index('ix_smsmessage_gateway_message', 'smsmessage', ['gateway', 'gateway_message_id'], unique=False)
    op.execute("DELETE FROM smsmessagepart WHERE part = 1")
    if op.get_bind().dialect.name == 'postgresql':
        op.create_foreign_key('smsmessagepart_message_id_fkey', 'smsmessagepart', 'smsmessage', ['message_id'], ['id'])
    else:
        with op.batch_alter_table('smsmessagepart') as batch:
            batch.create_foreign_key('fk_smsmessagepart_message_id_smsmessage', 'smsmessage', ['message_id'], ['id'])
