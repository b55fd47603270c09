import enum
import uuid
from datetime import datetime

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base_class import Base, utcnow


class Overlap(enum.StrEnum):
    # Skip a slot while this schedule's previous job is still queued or running.
    skip = "skip"
    allow = "allow"


class Schedule(Base):
    """A tool with fixed inputs, run on a cron or an interval by Celery beat."""

    __tablename__ = "schedule"
    __table_args__ = (Index("ix_schedule_enabled_next_run_at", "enabled", "next_run_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    tool: Mapped[str] = mapped_column(String(100))
    inputs: Mapped[dict[str, object]] = mapped_column(JSON)
    priority: Mapped[int] = mapped_column(default=5)
    labels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # Exactly one of cron (5 fields, in `timezone`) and interval_seconds.
    cron: Mapped[str | None] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    interval_seconds: Mapped[int | None]
    start_at: Mapped[datetime | None]
    end_at: Mapped[datetime | None]
    enabled: Mapped[bool] = mapped_column(default=True)
    overlap: Mapped[Overlap] = mapped_column(
        Enum(Overlap, native_enum=False, length=16, validate_strings=True), default=Overlap.skip
    )
    # None once the schedule has no slot left (past end_at).
    next_run_at: Mapped[datetime | None]
    last_run_at: Mapped[datetime | None]
    run_count: Mapped[int] = mapped_column(default=0)
    # The last slot that created no job, and why (its owner's queued limit, a tool or
    # inputs that are no longer valid).
    last_skipped_at: Mapped[datetime | None]
    last_skip_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
