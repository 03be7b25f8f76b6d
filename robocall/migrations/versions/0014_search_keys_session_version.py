"""security: contact.name_folded (the indexed search key) and user.session_version (revocable sessions)

Revision ID: 0014
Revises: 0013
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from robocall.text import search_fold

revision: str = '0014'
down_revision: Union[str, Sequence[str], None] = '0013'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = '0003'  # the user table is on the accounts branch

_FOLDED = sa.String().with_variant(sa.String(collation="C"), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table('contact') as batch:
        batch.add_column(sa.Column('name_folded', _FOLDED, nullable=False, server_default=''))
        batch.add_column(sa.Column('given_folded', _FOLDED, nullable=False, server_default=''))
    # Contacts already there get their search key, in pages (a province's list fits in memory a page at a time).
    connection = op.get_bind()
    contact = sa.table('contact', sa.column('id', sa.Integer), sa.column('name', sa.String),
                       sa.column('name_folded', sa.String),
                       sa.column('given_folded', sa.String))
    last = 0
    while True:
        page = connection.execute(sa.select(contact.c.id, contact.c.name).where(contact.c.id > last)
                                  .order_by(contact.c.id).limit(10_000)).all()
        if not page:
            break
        connection.execute(sa.update(contact).where(contact.c.id == sa.bindparam('key'))
                           .values(name_folded=sa.bindparam('folded'), given_folded=sa.bindparam('given')),
                           [_keys(i, n) for i, n in page])
        last = page[-1][0]
    with op.batch_alter_table('contact') as batch:
        batch.create_index(batch.f('ix_contact_name_folded'), ['name_folded'], unique=False)
        batch.create_index(batch.f('ix_contact_given_folded'), ['given_folded'], unique=False)
    with op.batch_alter_table('user') as batch:
        batch.add_column(sa.Column('session_version', sa.Integer(), nullable=False, server_default='0'))


def _keys(key: int, name: str | None) -> dict[str, object]:
    folded = search_fold(name or "")
    return {"key": key, "folded": folded, "given": folded.rpartition(" ")[2]}


def downgrade() -> None:
    with op.batch_alter_table('user') as batch:
        batch.drop_column('session_version')
    with op.batch_alter_table('contact') as batch:
        batch.drop_index(batch.f('ix_contact_given_folded'))
        batch.drop_index(batch.f('ix_contact_name_folded'))
        batch.drop_column('given_folded')
        batch.drop_column('name_folded')
