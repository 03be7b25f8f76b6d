"""sms transactional: single messages (outbox), SMS health declarations, the channel of a call attempt

- smscampaign.kind: broadcast (a list) or transactional (the standing campaign of single messages),
  at most one transactional campaign;
- smsmessage.purpose: '' for a campaign's list; the one-message-per-number rule now holds only for
  lists (a person may get many replies), so the unique constraint becomes a partial unique index
  (on SQLite the table is copied once to drop the constraint);
- smsdialogue: a health declaration by SMS between two messages, one open per number;
- callattempt.channel: voice or sms.

Revision ID: 0004
Revises: 0002
"""
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (column types)
from alembic import op

revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_TRANSACTIONAL = sa.text("kind = 'transactional'")
_LIST_MESSAGE = sa.text("purpose = ''")
_OPEN = sa.text("status = 'open'")


def upgrade() -> None:
    with op.batch_alter_table('smscampaign', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default='broadcast'))
        batch_op.create_index('one_transactional_campaign', ['kind'], unique=True,
                              sqlite_where=_TRANSACTIONAL, postgresql_where=_TRANSACTIONAL)

    with op.batch_alter_table('smsmessage', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purpose', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default=''))
        batch_op.drop_constraint('one_sms_per_phone_per_campaign', type_='unique')
    # Outside the batch: the index's name was the constraint's until the constraint is gone.
    op.create_index('one_sms_per_phone_per_campaign', 'smsmessage', ['campaign_id', 'phone'], unique=True,
                    sqlite_where=_LIST_MESSAGE, postgresql_where=_LIST_MESSAGE)

    with op.batch_alter_table('callattempt', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default='voice'))

    op.create_table('smsdialogue',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('phone', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('flow', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('gateway', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('session', sa.JSON(), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('replies', sa.Integer(), nullable=False),
    sa.Column('started_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('last_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('ended_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('closed_by', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('attempt_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['attempt_id'], ['callattempt.id'], ),
    sa.ForeignKeyConstraint(['contact_id'], ['contact.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('smsdialogue', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_smsdialogue_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index('ix_smsdialogue_status_last_at', ['status', 'last_at'], unique=False)
        batch_op.create_index('one_open_sms_dialogue_per_phone', ['phone'], unique=True,
                              sqlite_where=_OPEN, postgresql_where=_OPEN)


def downgrade() -> None:
    with op.batch_alter_table('smsdialogue', schema=None) as batch_op:
        batch_op.drop_index('one_open_sms_dialogue_per_phone', sqlite_where=_OPEN, postgresql_where=_OPEN)
        batch_op.drop_index('ix_smsdialogue_status_last_at')
        batch_op.drop_index(batch_op.f('ix_smsdialogue_contact_id'))
    op.drop_table('smsdialogue')

    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): copying a table that others refer to would trip
    # SQLite's foreign-key check.
    op.drop_column('callattempt', 'channel')

    # Single messages break the old one-per-number rule: they go before it comes back.
    op.execute("DELETE FROM smsmessage WHERE purpose <> ''")
    op.execute("DELETE FROM smsinvalidrecipient WHERE campaign_id IN (SELECT id FROM smscampaign WHERE kind = 'transactional')")
    op.execute("DELETE FROM smscampaign WHERE kind = 'transactional'")
    op.drop_index('one_sms_per_phone_per_campaign', table_name='smsmessage',
                  sqlite_where=_LIST_MESSAGE, postgresql_where=_LIST_MESSAGE)
    with op.batch_alter_table('smsmessage', schema=None) as batch_op:
        batch_op.create_unique_constraint('one_sms_per_phone_per_campaign', ['campaign_id', 'phone'])
        batch_op.drop_column('purpose')

    op.drop_index('one_transactional_campaign', table_name='smscampaign', sqlite_where=_TRANSACTIONAL,
                  postgresql_where=_TRANSACTIONAL)
    op.drop_column('smscampaign', 'kind')
