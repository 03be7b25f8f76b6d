"""sms: smsmessage pages are filled to 40 % on PostgreSQL, so that the three state changes of a
message (claimed, accepted, receipt) find room on its own page and stay HOT updates

COPY fills pages to the brim; the first update of a row then had to go to another page, with new
entries in every index (measured: 37-97 % of updates were not HOT, and the table grew to 3-4 times
its size).  Rows written before the upgrade keep their pages.

Revision ID: 0007
Revises: 0006
"""
from typing import Sequence, Union

from alembic import op

revision: str = '0007'
down_revision: Union[str, Sequence[str], None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("ALTER TABLE smsmessage SET (fillfactor = 40)")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("ALTER TABLE smsmessage RESET (fillfactor)")
