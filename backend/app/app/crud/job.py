import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from app.models.job import Job, JobState


def create_job(session: Session, job: Job) -> Job:
    session.add(job)
    session.flush()
    return job


def get_job(session: Session, job_id: uuid.UUID) -> Job | None:
    return session.get(Job, job_id)


def delete_job(session: Session, job_id: uuid.UUID) -> None:
    job = session.get(Job, job_id)
    if job is not None:
        session.delete(job)
        session.flush()


def transition_job(
    session: Session, job_id: uuid.UUID, from_states: Collection[JobState], **values: Any
) -> Job | None:
    """Update the job only if it is in one of `from_states`; None when it was not.

    The state check and the write are one statement, so two processes racing on the
    same job (a worker finishing it, the reaper failing it) cannot both win.
    """
    statement = (
        update(Job)
        .where(Job.id == job_id, Job.state.in_(list(from_states)))
        .values(**values)
        .returning(Job)
        # populate_existing: a Job this session already loaded gets the new values too.
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return session.scalars(statement).one_or_none()


def list_jobs(
    session: Session,
    *,
    owner_id: uuid.UUID | None,
    tool: str | None,
    state: JobState | None,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[Job]:
    """Newest first; `before` is the (created_at, id) of the last job of the previous page."""
    statement = select(Job).order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)
    if owner_id is not None:
        statement = statement.where(Job.owner_id == owner_id)
    if tool is not None:
        statement = statement.where(Job.tool == tool)
    if state is not None:
        statement = statement.where(Job.state == state)
    if before is not None:
        created_at, job_id = before
        statement = statement.where(
            or_(Job.created_at < created_at, and_(Job.created_at == created_at, Job.id < job_id))
        )
    return session.scalars(statement).all()


def list_running_job_ids(session: Session, *, started_before: datetime) -> Sequence[uuid.UUID]:
    statement = select(Job.id).where(Job.state == JobState.running, Job.started_at < started_before)
    return session.scalars(statement).all()
