"""SQL of the per-user quotas: a user's queued and running jobs, the limits superusers
set, and the lock that makes one user's starts take turns."""

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models.job import Job, JobState
from app.models.user import User


def queued_job_ids(session: Session, owner_id: uuid.UUID) -> Sequence[uuid.UUID]:
    statement = select(Job.id).where(Job.state == JobState.queued, Job.owner_id == owner_id)
    return session.scalars(statement).all()


def queued_limit_override(session: Session, owner_id: uuid.UUID) -> int | None:
    return session.scalar(select(User.max_queued_jobs).where(User.id == owner_id))


def running_limit_overrides(session: Session) -> dict[uuid.UUID, int]:
    """The running limits superusers set, by user (few users have one)."""
    statement = select(User.id, User.max_running_jobs).where(User.max_running_jobs.is_not(None))
    rows = session.execute(statement).tuples()
    return {user_id: limit for user_id, limit in rows if limit is not None}


def lock_owner_starts(session: Session, owner_id: uuid.UUID) -> None:
    """Wait for, then hold until the transaction ends, the right to start a job of this
    owner. SQLite (the embedded local stack) writes one at a time anyway."""
    if session.get_bind().dialect.name == "postgresql":
        # A signed 64-bit key from the owner's id.
        key = (owner_id.int >> 64) - 2**63
        session.execute(select(func.pg_advisory_xact_lock(key)))


def count_running_jobs(session: Session, owner_id: uuid.UUID, *, other_than: uuid.UUID) -> int:
    statement = select(func.count()).where(
        Job.owner_id == owner_id, Job.state == JobState.running, Job.id != other_than
    )
    return int(session.scalar(statement) or 0)
