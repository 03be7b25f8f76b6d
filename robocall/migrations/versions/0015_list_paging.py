"""contact: an index in the line lists' order (district, commune, name, id), which their keyset pages walk

Revision ID: 0015
Revises: 0014
"""
from typing import Sequence, Union

from alembic import op

revision: str = '0015'
down_revision: Union[str, Sequence[str], None] = '0014'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index('ix_contact_list_order', 'contact', ['district', 'commune', 'name', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_contact_list_order', table_name='contact')
