"""user quotas and schedule skips

Revision ID: 7dc43d0cee01
Revises: d978403dd032
Create Date: 2026-12-02 15:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db.base_class

revision: str = "7dc43d0cee01"
down_revision: str | None = "d978403dd032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_queued_jobs", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("max_running_jobs", sa.Integer(), nullable=True))
    with op.batch_alter_table("schedule", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "last_skipped_at", app.db.base_class.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(sa.Column("last_skip_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("schedule", schema=None) as batch_op:
        batch_op.drop_column("last_skip_reason")
        batch_op.drop_column("last_skipped_at")
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("max_running_jobs")
        batch_op.drop_column("max_queued_jobs")
