import enum
import uuid
from datetime import datetime
from typing import NotRequired

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column
from typing_extensions import TypedDict

from app.db.base_class import Base, utcnow


class JobState(enum.StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset({JobState.succeeded, JobState.failed, JobState.cancelled})


class ErrorType(enum.StrEnum):
    tool_error = "tool_error"
    timeout = "timeout"
    worker_lost = "worker_lost"
    invalid_output = "invalid_output"
    system_error = "system_error"


class JobError(TypedDict):
    """Why a job failed, as stored and as clients see it."""

    type: ErrorType
    message: str
    # The last frames of an unexpected exception the tool raised.
    traceback: NotRequired[str]


class Job(Base):
    __tablename__ = "job"
    __table_args__ = (
        UniqueConstraint("owner_id", "idempotency_key"),
        # Keyset pagination of the job list, newest first, per owner and for everyone.
        Index("ix_job_owner_id_created_at_id", "owner_id", "created_at", "id"),
        Index("ix_job_created_at_id", "created_at", "id"),
        Index("ix_job_state", "state"),
    )

    # Also the Celery task id.
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    tool: Mapped[str] = mapped_column(String(100))
    tool_version: Mapped[str] = mapped_column(String(50))
    inputs: Mapped[dict[str, object]] = mapped_column(JSON)
    state: Mapped[JobState] = mapped_column(
        Enum(JobState, native_enum=False, length=16, validate_strings=True),
        default=JobState.queued,
    )
    progress: Mapped[float] = mapped_column(default=0.0)
    message: Mapped[str | None] = mapped_column(Text)
    outputs: Mapped[dict[str, object] | None] = mapped_column(JSON)
    error: Mapped[JobError | None] = mapped_column(JSON)
    priority: Mapped[int] = mapped_column(default=5)
    attempt: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=1)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    schedule_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("schedule.id", ondelete="SET NULL"), index=True
    )
    labels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    # Told with a signed POST when the job ends (app.worker.tasks.deliver_webhook).
    callback_url: Mapped[str | None] = mapped_column(String(2048))
    # How an OGC execute request asked for the results (`response`, the `outputs` it
    # chose); None for a job submitted through the REST API.
    ogc_results: Mapped[dict[str, object] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class JobTombstone(Base):
    """What is left of a job that retention purged: its id answers 410, not 404."""

    __tablename__ = "job_tombstone"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    owner_id: Mapped[uuid.UUID] = mapped_column(index=True)
    purged_at: Mapped[datetime] = mapped_column(default=utcnow)
