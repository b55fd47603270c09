"""Use-cases of jobs as submitters see them: submit, read one, list."""

import base64
import binascii
import logging
import uuid
from datetime import datetime
from typing import Any

import redis
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from app.core.celery_app import RUN_JOB_TASK, broker_priority, celery_app
from app.crud import file as file_crud
from app.crud import job as job_crud
from app.models.job import Job, JobState
from app.schemas.job import JobOptions, JobPage, JobRead
from app.schemas.user import Principal
from app.services.errors import InvalidInput, NotFound, Unavailable
from app.tools.files import file_refs
from app.tools.registry import AnyTool, UnknownToolError, get_tool
from app.worker import redis_db

logger = logging.getLogger(__name__)


def submit_job(
    session: Session, owner: Principal, tool_name: str, inputs: Any, *, options: JobOptions
) -> JobRead:
    """Validate, record, then send: the row is committed before a worker can see the task."""
    tool = _tool_or_invalid(tool_name)
    try:
        valid_inputs = tool.inputs_model.model_validate(inputs)
    except ValidationError as error:
        raise InvalidInput(
            [
                {"loc": ["body", "inputs", *e["loc"]], "msg": e["msg"], "type": e["type"]}
                for e in error.errors(include_url=False, include_context=False)
            ]
        ) from None
    _check_file_refs(session, owner, valid_inputs)
    job = job_crud.create_job(
        session,
        Job(
            owner_id=owner.id,
            tool=tool.name,
            tool_version=tool.version,
            inputs=valid_inputs.model_dump(mode="json"),
            priority=options.priority,
            labels=options.labels,
            max_attempts=tool.max_attempts,
        ),
    )
    session.commit()
    snapshot = JobRead.model_validate(job)
    mirror_job(snapshot)
    try:
        send_job(snapshot)
    except Exception as error:
        # Nothing was queued: keep no row a worker will never run, and say so.
        logger.warning("could not send job %s to the broker: %r", job.id, error)
        job_crud.delete_job(session, job.id)
        session.commit()
        forget_job(job.id)
        raise Unavailable(
            "the job queue is unavailable; nothing was submitted, try again"
        ) from None
    return snapshot


def send_job(job: JobRead) -> None:
    tool = get_tool(job.tool)
    celery_app.send_task(
        RUN_JOB_TASK,
        args=[str(job.id)],
        task_id=str(job.id),
        queue=tool.queue,
        priority=broker_priority(job.priority),
        soft_time_limit=tool.time_limit_seconds,
        # The hard limit is a backstop for a tool that ignores the soft one.
        time_limit=None if tool.time_limit_seconds is None else tool.time_limit_seconds + 30,
    )


def read_job(session: Session, principal: Principal, job_id: uuid.UUID) -> JobRead:
    """From Redis when it has the job (no SQL at all), else from PostgreSQL."""
    job = _load_snapshot(job_id)
    if job is None:
        row = job_crud.get_job(session, job_id)
        if row is None:
            raise NotFound("job not found")
        job = JobRead.model_validate(row)
        mirror_job(job, publish=False)
    if not _may_see(principal, job.owner_id):
        raise NotFound("job not found")
    return job


def list_jobs(
    session: Session,
    principal: Principal,
    *,
    tool: str | None,
    state: JobState | None,
    limit: int,
    cursor: str | None,
) -> JobPage:
    rows = job_crud.list_jobs(
        session,
        owner_id=None if principal.is_superuser else principal.id,
        tool=tool,
        state=state,
        before=None if cursor is None else _decode_cursor(cursor),
        # One more than asked tells whether another page follows.
        limit=limit + 1,
    )
    items = [JobRead.model_validate(row) for row in rows[:limit]]
    next_cursor = _encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return JobPage(items=items, next_cursor=next_cursor)


def mirror_job(job: JobRead, *, publish: bool = True) -> None:
    """Copy a committed transition to Redis; PostgreSQL stays the record if Redis is down."""
    try:
        redis_db.save_job(job, publish=publish)
    except redis.RedisError as error:
        logger.warning("could not mirror job %s to Redis: %r", job.id, error)


def forget_job(job_id: uuid.UUID) -> None:
    try:
        redis_db.forget_job(job_id)
    except redis.RedisError as error:
        logger.warning("could not remove job %s from Redis: %r", job_id, error)


def _load_snapshot(job_id: uuid.UUID) -> JobRead | None:
    try:
        return redis_db.load_job(job_id)
    except redis.RedisError as error:
        logger.warning("Redis unavailable, reading job %s from PostgreSQL: %r", job_id, error)
        return None


def _may_see(principal: Principal, owner_id: uuid.UUID) -> bool:
    return principal.is_superuser or principal.id == owner_id


def _check_file_refs(session: Session, owner: Principal, inputs: BaseModel) -> None:
    """Every file the inputs refer to exists and belongs to the submitter."""
    refs = list(file_refs(inputs))
    if not refs:
        return
    owned = {
        file.id
        for file in file_crud.get_files(session, {file_id for _, file_id in refs})
        if file.owner_id == owner.id
    }
    missing = [
        {
            "loc": ["body", "inputs", *location],
            "msg": "no file with this id; upload it with POST /api/v1/files",
            "type": "file_not_found",
        }
        for location, file_id in refs
        if file_id not in owned
    ]
    if missing:
        raise InvalidInput(missing)


def _tool_or_invalid(name: str) -> AnyTool:
    try:
        return get_tool(name)
    except UnknownToolError:
        raise InvalidInput.at(
            ["body", "tool"], f"unknown tool {name!r}; GET /api/v1/tools lists them", "unknown_tool"
        ) from None


def _encode_cursor(job: Job) -> str:
    raw = f"{job.created_at.isoformat()}|{job.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_at, job_id = raw.split("|")
        return datetime.fromisoformat(created_at), uuid.UUID(job_id)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput.at(
            ["query", "cursor"], "not a cursor from a previous page", "invalid_cursor"
        ) from None
