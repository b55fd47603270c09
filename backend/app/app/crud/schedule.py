import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from app.models.job import Job, JobState
from app.models.schedule import Schedule


def create_schedule(session: Session, schedule: Schedule) -> Schedule:
    session.add(schedule)
    session.flush()
    return schedule


def get_schedule(session: Session, schedule_id: uuid.UUID) -> Schedule | None:
    return session.get(Schedule, schedule_id)


def list_schedules(
    session: Session, *, owner_id: uuid.UUID | None, offset: int, limit: int
) -> Sequence[Schedule]:
    statement = select(Schedule).order_by(Schedule.created_at, Schedule.id)
    if owner_id is not None:
        statement = statement.where(Schedule.owner_id == owner_id)
    return session.scalars(statement.offset(offset).limit(limit)).all()


def delete_schedule(session: Session, schedule: Schedule) -> None:
    session.delete(schedule)
    session.flush()


def claim_due_schedules(session: Session, *, now: datetime, limit: int) -> Sequence[Schedule]:
    """Due schedules, locked until the transaction ends; rows another dispatcher holds
    are skipped, so two dispatchers never start the same run."""
    statement = (
        select(Schedule)
        .where(Schedule.enabled.is_(True), Schedule.next_run_at <= now)
        .order_by(Schedule.next_run_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return session.scalars(statement).all()


def has_unfinished_job(session: Session, schedule_id: uuid.UUID) -> bool:
    statement = select(
        exists().where(
            Job.schedule_id == schedule_id, Job.state.in_([JobState.queued, JobState.running])
        )
    )
    return bool(session.scalar(statement))
