"""Use-cases of jobs as submitters see them: submit, read, list, cancel, delete."""

import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from anyio.to_thread import run_sync
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.crud import job as job_crud
from app.db.base_class import utcnow
from app.models.job import Job, JobState
from app.schemas.job import CURSOR_PATTERN, JobBatchItem, JobFilters, JobOptions, JobPage, JobRead
from app.schemas.user import Principal
from app.services import process_cache, quotas, submit_groups, webhooks
from app.services.errors import (
    Conflict,
    FieldError,
    Gone,
    InvalidInput,
    NotFound,
    UnknownReference,
)
from app.services.job_lifecycle import forget_job, mirror_job, send_new_jobs
from app.services.new_jobs import new_job
from app.worker.redis_db import jobs as hot_jobs


def submit_job(
    session: Session,
    owner: Principal,
    tool_name: str,
    inputs: object,
    *,
    options: JobOptions,
    idempotency_key: str | None = None,
    schedule_id: uuid.UUID | None = None,
    ogc_results: dict[str, object] | None = None,
) -> tuple[JobRead, bool]:
    """Validate, record, then send: the row is committed before a worker can see the task.

    Returns the job and whether it is new: a repeated Idempotency-Key with the same
    request gives back the job it created the first time. RateLimited past the owner's
    submit rate limit (the submit is counted here, a replay is not) or when their queued
    jobs are at their limit.
    """
    job = new_job(session, owner.id, tool_name, inputs, options=options, schedule_id=schedule_id)
    job.idempotency_key = idempotency_key
    job.ogc_results = ogc_results
    if idempotency_key is not None:
        earlier = job_crud.get_job_by_idempotency_key(session, owner.id, idempotency_key)
        if earlier is not None:
            return _replay(earlier, job), False
    try:
        snapshot = submit_groups.record_and_send(session, job, owner.max_queued_jobs)
    except IntegrityError:
        # The same key, submitted at the same moment by another request.
        session.rollback()
        earlier = job_crud.get_job_by_idempotency_key(session, owner.id, str(idempotency_key))
        if earlier is None:
            raise
        return _replay(earlier, job), False
    return snapshot, True


def submit_jobs(
    session: Session, owner: Principal, items: Sequence[JobBatchItem]
) -> list[uuid.UUID]:
    """submit_job for many jobs at once: every one validated before any is recorded (an
    error names the job's index), the new ones committed together, then sent.

    The ids answer in the order of `items`; an item whose idempotency_key was used
    before answers with the earlier job. RateLimited, with nothing queued, when the new
    jobs do not all fit under the owner's queued-jobs limit.
    """
    jobs = _new_jobs(session, owner, items)
    earlier, created, queued_before = _record_new(session, owner, jobs)
    send_new_jobs(
        session,
        created,
        queued_before=[queued_before + position for position in range(len(created))],
    )
    return [
        earlier[job.idempotency_key].id if job.idempotency_key in earlier else job.id
        for job in jobs
    ]


def _new_jobs(session: Session, owner: Principal, items: Sequence[JobBatchItem]) -> list[Job]:
    jobs: list[Job] = []
    errors: list[FieldError] = []
    # Unknown files only make the batch a reference to something unknown, as for one job.
    refusal: type[InvalidInput] = UnknownReference
    conflict: Conflict | None = None
    first_with_key: dict[str, tuple[int, Job]] = {}
    for index, item in enumerate(items):
        try:
            job = new_job(session, owner.id, item.tool, item.inputs, options=item)
        except InvalidInput as invalid:
            errors += [
                FieldError(("jobs", index, *e.path), e.message, e.type) for e in invalid.errors
            ]
            if not isinstance(invalid, UnknownReference):
                refusal = InvalidInput
            continue
        if item.idempotency_key is not None:
            # A key again: the same job, as a second request with it would answer, or a
            # conflict when it asks for another.
            first_index, first = first_with_key.setdefault(item.idempotency_key, (index, job))
            if first is not job:
                if not _same_request(first, job):
                    conflict = conflict or Conflict(
                        f"jobs[{index}]: the idempotency_key of jobs[{first_index}], "
                        "for a different request"
                    )
                jobs.append(first)
                continue
        job.idempotency_key = item.idempotency_key
        jobs.append(job)
    if errors:
        raise refusal(errors)
    if conflict is not None:
        raise conflict
    return jobs


def _record_new(
    session: Session, owner: Principal, jobs: Sequence[Job]
) -> tuple[dict[str | None, Job], list[Job], int]:
    """Commit the jobs whose key was not used before; the earlier jobs by key, the jobs
    committed now, and how many the owner had queued before them."""
    try:
        return _commit_new(session, owner, jobs)
    except IntegrityError:
        # A key of this batch, submitted at the same moment by another request: that
        # job is an earlier one now.
        session.rollback()
        return _commit_new(session, owner, jobs)


def _commit_new(
    session: Session, owner: Principal, jobs: Sequence[Job]
) -> tuple[dict[str | None, Job], list[Job], int]:
    earlier = _replays(session, owner, jobs)
    # A job is in `jobs` once for each item that asked for it.
    created = [job for job in dict.fromkeys(jobs) if job.idempotency_key not in earlier]
    queued_before = (
        quotas.admit_queued(session, owner.id, owner.max_queued_jobs, len(created))
        if created
        else 0
    )
    job_crud.create_jobs(session, created)
    session.commit()
    return earlier, created, queued_before


def _replays(session: Session, owner: Principal, jobs: Sequence[Job]) -> dict[str | None, Job]:
    """The earlier jobs of the keys in `jobs`; Conflict when one was for another request."""
    keys = [job.idempotency_key for job in jobs if job.idempotency_key is not None]
    if not keys:
        return {}
    earlier = job_crud.get_jobs_by_idempotency_keys(session, owner.id, keys)
    for index, job in enumerate(jobs):
        if job.idempotency_key in earlier:
            try:
                _replay(earlier[job.idempotency_key], job)
            except Conflict as conflict:
                raise Conflict(f"jobs[{index}]: {conflict.detail}") from None
    return dict(earlier.items())


def read_job(session: Session, principal: Principal, job_id: uuid.UUID) -> JobRead:
    """From Redis when it has the job (no SQL at all), else from PostgreSQL."""
    job = hot_jobs.load_job(job_id)
    if job is None:
        row = job_crud.get_job(session, job_id)
        if row is None:
            _raise_purged_or_missing(session, principal, job_id)
        job = JobRead.model_validate(row)
        mirror_job(job, publish=False)
    if not principal.may_see(job.owner_id):
        raise NotFound("job not found")
    return job


async def read_job_json(
    sessions: sessionmaker[Session], principal: Principal, job_id: uuid.UUID
) -> bytes:
    """The job's JSON for a poll: an ended job from this process's memory, else the
    bytes Redis holds (unparsed), else PostgreSQL's row (read in a thread, in a session
    opened only then)."""
    found = process_cache.ended_job(job_id) or await hot_jobs.load_job_json(job_id)
    if found is None:
        job = await run_sync(_read_job_in_new_session, sessions, principal, job_id)
        owner_id, state, body = job.owner_id, job.state, job.model_dump_json().encode()
    else:
        owner_id, state, body = found
        if not principal.may_see(owner_id):
            raise NotFound("job not found")
    if state.is_terminal:
        process_cache.keep_ended_job(job_id, owner_id, state, body)
    return body


def _read_job_in_new_session(
    sessions: sessionmaker[Session], principal: Principal, job_id: uuid.UUID
) -> JobRead:
    with sessions() as session:
        return read_job(session, principal, job_id)


def list_jobs(
    session: Session, principal: Principal, filters: JobFilters, *, limit: int, cursor: str | None
) -> JobPage:
    label = None
    if filters.label is not None:
        key, _, value = filters.label.partition(":")
        label = (key, value)
    rows = job_crud.list_jobs(
        session,
        owner_id=None if principal.is_superuser else principal.id,
        tools=None if filters.tool is None else [filters.tool],
        schedule_id=filters.schedule_id,
        states=None if filters.state is None else [filters.state],
        label=label,
        created_after=filters.created_after,
        created_before=filters.created_before,
        before=None if cursor is None else decode_cursor(cursor),
        # One more than asked tells whether another page follows.
        limit=limit + 1,
    )
    items = [JobRead.model_validate(row) for row in rows[:limit]]
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return JobPage(items=items, next_cursor=next_cursor)


def cancel_job(session: Session, principal: Principal, job_id: uuid.UUID) -> JobRead:
    """Queued: cancelled at once. Running: asked to stop (the worker ends it cancelled)."""
    read_job(session, principal, job_id)
    now = utcnow()
    changed = job_crud.transition_job(
        session,
        job_id,
        [JobState.queued],
        state=JobState.cancelled,
        cancel_requested=True,
        finished_at=now,
        updated_at=now,
    ) or job_crud.transition_job(
        session, job_id, [JobState.running], cancel_requested=True, updated_at=now
    )
    session.commit()
    if changed is None:
        raise Conflict("the job has already ended")
    if changed.state is JobState.running:
        hot_jobs.request_cancel(job_id)
    snapshot = JobRead.model_validate(changed)
    mirror_job(snapshot)
    # Cancelled before it ran, the job ended here: its callback hears it now. (A
    # running one is told by its worker when it has stopped.)
    if changed.state is JobState.cancelled and webhooks.wants_delivery(changed):
        webhooks.schedule_delivery(job_id, JobState.cancelled)
    return snapshot


def delete_job(session: Session, principal: Principal, job_id: uuid.UUID) -> None:
    """A terminal job, its log and its artifacts; 409 while it may still change."""
    read_job(session, principal, job_id)
    deleted = job_crud.delete_ended_job(session, job_id)
    session.commit()
    if not deleted:
        raise Conflict("cancel the job first: only ended jobs can be deleted")
    forget_job(job_id)


def _replay(earlier: Job, request: Job) -> JobRead:
    if not _same_request(earlier, request):
        raise Conflict("this Idempotency-Key was used for a different request")
    return JobRead.model_validate(earlier)


def _same_request(one: Job, other: Job) -> bool:
    def fingerprint(job: Job) -> tuple[object, ...]:
        return (job.tool, job.inputs, job.priority, job.labels, job.callback_url)

    return fingerprint(one) == fingerprint(other)


def _raise_purged_or_missing(session: Session, principal: Principal, job_id: uuid.UUID) -> None:
    tombstone = job_crud.get_tombstone(session, job_id)
    if tombstone is not None and principal.may_see(tombstone.owner_id):
        raise Gone("the job ended long ago and was deleted by retention")
    raise NotFound("job not found")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def encode_cursor(job: Job) -> str:
    return encode_cursor_at(job.created_at, job.id)


def encode_cursor_at(created_at: datetime, job_id: uuid.UUID) -> str:
    """`<microseconds since 1970>-<job id>`: every string of that form (CURSOR_PATTERN)
    reads back, so that what the API documents of a cursor is all it checks."""
    return f"{(created_at - _EPOCH) // _MICROSECOND}-{job_id.hex}"


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    if re.fullmatch(CURSOR_PATTERN, cursor) is None:
        raise InvalidInput.at(("cursor",), "not a cursor from a previous page", "invalid_cursor")
    micros, job_id = cursor.split("-")
    return _EPOCH + int(micros) * _MICROSECOND, uuid.UUID(job_id)
