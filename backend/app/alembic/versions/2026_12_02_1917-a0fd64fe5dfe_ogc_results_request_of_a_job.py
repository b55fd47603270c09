"""ogc results request of a job

Revision ID: a0fd64fe5dfe
Revises: 7dc43d0cee01
Create Date: 2026-12-02 19:17:58.520586
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a0fd64fe5dfe"
down_revision: str | None = "7dc43d0cee01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ogc_results", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_column("ogc_results")
