"""upload receiving part

Revision ID: 393a47f29ef8
Revises: 5ec69665c235
Create Date: 2026-12-04 15:53:57.573796
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "393a47f29ef8"
down_revision: str | None = "5ec69665c235"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("upload", schema=None) as batch_op:
        batch_op.add_column(sa.Column("receiving_part_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("upload", schema=None) as batch_op:
        batch_op.drop_column("receiving_part_id")
