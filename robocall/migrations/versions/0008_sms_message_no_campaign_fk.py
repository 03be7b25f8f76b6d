"""sms: smsmessage.campaign_id is no longer a foreign key

PostgreSQL checks a foreign key with a query per inserted row: loading a list of a million
numbers spent ~5.5 us a row on it, 40 % of the COPY (measured).  Messages are only written by
the campaign loader and the outbox, into a campaign they have just read or made, and campaigns
are never deleted; smsmessagepart dropped its key for the same reason (0006).

Revision ID: 0008
Revises: 0007
"""
from typing import Sequence, Union

from alembic import op

_SQLITE_NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}

revision: str = '0008'
down_revision: Union[str, Sequence[str], None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_constraint('smsmessage_campaign_id_fkey', 'smsmessage', type_='foreignkey')
    else:  # SQLite rebuilds the table; its key has no name, the convention gives it one
        with op.batch_alter_table('smsmessage', naming_convention=_SQLITE_NAMES) as batch:
            batch.drop_constraint('fk_smsmessage_campaign_id_smscampaign', type_='foreignkey')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.create_foreign_key('smsmessage_campaign_id_fkey', 'smsmessage', 'smscampaign', ['campaign_id'], ['id'])
    else:
        with op.batch_alter_table('smsmessage') as batch:
            batch.create_foreign_key('fk_smsmessage_campaign_id_smscampaign', 'smscampaign', ['campaign_id'], ['id'])
