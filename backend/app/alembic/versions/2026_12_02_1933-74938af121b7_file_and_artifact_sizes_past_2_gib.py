"""file and artifact sizes past 2 GiB

Revision ID: 74938af121b7
Revises: a0fd64fe5dfe
Create Date: 2026-12-02 19:33:34.988642
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "74938af121b7"
down_revision: str | None = "a0fd64fe5dfe"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("artifact", "file")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                "size", existing_type=sa.INTEGER(), type_=sa.BigInteger(), existing_nullable=False
            )


def downgrade() -> None:
    # Fails while a row holds 2 GiB or more, which a 32-bit column cannot.
    for table in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                "size", existing_type=sa.BigInteger(), type_=sa.INTEGER(), existing_nullable=False
            )
