"""contact: phone_kind (mobile, landline, foreign): landlines are called but get no SMS, foreign numbers
are called only where international calls are allowed

Revision ID: 0013
Revises: 0012
"""
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0013'
down_revision: Union[str, Sequence[str], None] = '0012'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('contact') as batch:
        batch.add_column(sa.Column('phone_kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                   server_default='mobile'))


def downgrade() -> None:
    with op.batch_alter_table('contact') as batch:
        batch.drop_column('phone_kind')
