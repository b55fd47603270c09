"""SQL of jobs: create, read, list, move between states, purge."""

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from functools import cache
from types import SimpleNamespace
from typing import TypedDict, Unpack, cast

from sqlalchemy import Row, Table, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningUpdate

from app.db.driver_cursor import fetch_one, insert_rows
from app.models.job import TERMINAL_STATES, Job, JobError, JobState, JobTombstone

# A job's row as an UPDATE ... RETURNING gives it: every column, by name, as on a Job.
JobRow = SimpleNamespace
_JobUpdate = ReturningUpdate[tuple[Job]]
_JOB_TABLE = cast(Table, Job.__table__)


class JobChanges(TypedDict, total=False):
    """The columns a state transition may write."""

    state: JobState
    progress: float
    message: str | None
    outputs: dict[str, object]
    error: JobError
    cancel_requested: bool
    finished_at: datetime
    updated_at: datetime


def create_job(session: Session, job: Job) -> Job:
    create_jobs(session, [job])
    return job


def create_jobs(session: Session, jobs: Sequence[Job]) -> None:
    """Insert new jobs, their column defaults filled in on the objects. On the driver's
    cursor (app.db.driver_cursor): the ORM's unit of work, then Core's execution, cost a
    submit more than the statement itself. The objects stay outside the session, with
    every column set."""
    insert_rows(session.connection(), _JOB_TABLE, [_row_of(job) for job in jobs])


def _row_of(job: Job) -> dict[str, object]:
    row = {}
    for column in Job.__table__.columns:
        value = getattr(job, column.key)
        if value is None and column.default is not None:
            default = column.default
            value = default.arg(None) if default.is_callable else default.arg
            setattr(job, column.key, value)
        row[column.key] = value
    return row


def delete_jobs(session: Session, job_ids: Sequence[uuid.UUID]) -> None:
    session.execute(delete(Job).where(Job.id.in_(job_ids)))


def get_job(session: Session, job_id: uuid.UUID) -> Job | None:
    return session.get(Job, job_id)


def delete_job(session: Session, job_id: uuid.UUID) -> None:
    job = session.get(Job, job_id)
    if job is not None:
        session.delete(job)
        session.flush()


def transition_job(
    session: Session,
    job_id: uuid.UUID,
    from_states: Collection[JobState],
    **changes: Unpack[JobChanges],
) -> JobRow | None:
    """Update the job only if it is in one of `from_states`: its new row, or None when it
    was not.

    The state check and the write are one statement, so two processes racing on the
    same job (a worker finishing it, the reaper failing it) cannot both win.
    """
    statement = _transition_statement(tuple(sorted(changes)), _states_key(from_states))
    parameters = {f"new_{name}": value for name, value in changes.items()}
    return _execute_transition(session, statement, job_id, parameters)


def start_job(
    session: Session, job_id: uuid.UUID, from_states: Collection[JobState], now: datetime
) -> JobRow | None:
    """`transition_job` to running, with attempt + 1 and the progress of the last run reset."""
    statement = _start_statement(_states_key(from_states))
    return _execute_transition(session, statement, job_id, {"now": now})


def _execute_transition(
    session: Session,
    statement: _JobUpdate,
    job_id: uuid.UUID,
    parameters: dict[str, object],
) -> JobRow | None:
    # On the driver's cursor (app.db.driver_cursor): a job's transitions are the worker's
    # hottest SQL, and the ORM's, then Core's, execution cost more than the statement itself.
    parameters["job_id"] = job_id
    return fetch_one(session.connection(), statement, parameters)


def _states_key(states: Collection[JobState]) -> tuple[JobState, ...]:
    return tuple(sorted(set(states)))


@cache
def _transition_statement(
    columns: tuple[str, ...], from_states: tuple[JobState, ...]
) -> _JobUpdate:
    # Built once per set of columns and of states: building a statement costs more than
    # running it.
    job = Job.__table__
    return _guarded_update(
        {name: bindparam(f"new_{name}", type_=job.c[name].type) for name in columns},
        from_states,
    )


@cache
def _start_statement(from_states: tuple[JobState, ...]) -> _JobUpdate:
    job = Job.__table__
    now = bindparam("now", type_=job.c.started_at.type)
    return _guarded_update(
        {
            "state": JobState.running,
            "attempt": Job.attempt + 1,
            "started_at": now,
            "updated_at": now,
            "progress": 0.0,
            "message": None,
        },
        from_states,
    )


def _guarded_update(values: dict[str, object], from_states: tuple[JobState, ...]) -> _JobUpdate:
    # The states as values of the statement, not an expanding IN parameter: that one is
    # rendered again at every run.
    return (
        update(Job)
        .where(Job.id == bindparam("job_id"), or_(*(Job.state == state for state in from_states)))
        .values(values)
        .returning(*Job.__table__.c)
    )


def get_job_by_idempotency_key(session: Session, owner_id: uuid.UUID, key: str) -> Job | None:
    statement = select(Job).where(Job.owner_id == owner_id, Job.idempotency_key == key)
    return session.scalars(statement).one_or_none()


def get_jobs_by_idempotency_keys(
    session: Session, owner_id: uuid.UUID, keys: Sequence[str]
) -> dict[str, Job]:
    statement = select(Job).where(Job.owner_id == owner_id, Job.idempotency_key.in_(keys))
    return {str(job.idempotency_key): job for job in session.scalars(statement)}


def delete_ended_job(session: Session, job_id: uuid.UUID) -> bool:
    """Delete the job if it is terminal; whether it was."""
    statement = (
        delete(Job).where(Job.id == job_id, Job.state.in_(list(TERMINAL_STATES))).returning(Job.id)
    )
    return session.execute(statement).first() is not None


def list_jobs(
    session: Session,
    *,
    owner_id: uuid.UUID | None,
    tools: Collection[str] | None = None,
    states: Collection[JobState] | None = None,
    label: tuple[str, str] | None = None,
    schedule_id: uuid.UUID | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    before: tuple[datetime, uuid.UUID] | None = None,
    limit: int,
) -> Sequence[Job]:
    """Newest first; `before` is the (created_at, id) of the last job of the previous page."""
    statement = select(Job).order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)
    if owner_id is not None:
        statement = statement.where(Job.owner_id == owner_id)
    if tools is not None:
        statement = statement.where(Job.tool.in_(list(tools)))
    if states is not None:
        statement = statement.where(Job.state.in_(list(states)))
    if label is not None:
        key, value = label
        statement = statement.where(Job.labels[key].as_string() == value)
    if schedule_id is not None:
        statement = statement.where(Job.schedule_id == schedule_id)
    if created_after is not None:
        statement = statement.where(Job.created_at > created_after)
    if created_before is not None:
        statement = statement.where(Job.created_at < created_before)
    if before is not None:
        created_at, job_id = before
        statement = statement.where(
            or_(Job.created_at < created_at, and_(Job.created_at == created_at, Job.id < job_id))
        )
    return session.scalars(statement).all()


def list_queued_job_ids(session: Session, *, created_before: datetime) -> Sequence[uuid.UUID]:
    statement = select(Job.id).where(Job.state == JobState.queued, Job.created_at < created_before)
    return session.scalars(statement).all()


def select_queued_job_ids(session: Session, job_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Those of the jobs that are queued."""
    statement = select(Job.id).where(Job.id.in_(job_ids), Job.state == JobState.queued)
    return set(session.scalars(statement))


def purge_ended_jobs(session: Session, *, finished_before: datetime, limit: int) -> list[uuid.UUID]:
    """Delete up to `limit` terminal jobs that ended before the date, leaving tombstones."""
    expired = session.execute(
        select(Job.id, Job.owner_id)
        .where(Job.state.in_(list(TERMINAL_STATES)), Job.finished_at < finished_before)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not expired:
        return []
    session.add_all(JobTombstone(id=job_id, owner_id=owner_id) for job_id, owner_id in expired)
    session.execute(delete(Job).where(Job.id.in_([job_id for job_id, _ in expired])))
    return [job_id for job_id, _ in expired]


def get_tombstone(session: Session, job_id: uuid.UUID) -> JobTombstone | None:
    return session.get(JobTombstone, job_id)


def list_running_job_ids(session: Session, *, started_before: datetime) -> Sequence[uuid.UUID]:
    statement = select(Job.id).where(Job.state == JobState.running, Job.started_at < started_before)
    return session.scalars(statement).all()


def count_live_jobs(session: Session) -> Sequence[Row[str, JobState, int]]:
    """(tool, state, count) of the jobs not yet ended."""
    statement = (
        select(Job.tool, Job.state, func.count())
        .where(Job.state.not_in(list(TERMINAL_STATES)))
        .group_by(Job.tool, Job.state)
    )
    return session.execute(statement).all()
