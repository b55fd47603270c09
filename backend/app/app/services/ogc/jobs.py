"""OGC jobs: execute a process, a job's status info, the job list, results, dismiss.

The same jobs as the REST API's, with the standard's names: queued is `accepted`,
succeeded `successful` and cancelled `dismissed`."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from anyio.to_thread import run_sync
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import settings
from app.crud import artifact as artifact_crud
from app.crud import job as job_crud
from app.db.base_class import utcnow
from app.models.job import Job, JobState
from app.schemas.job import JobOptions, JobRead, UtcDatetime
from app.schemas.ogc import (
    ExecuteRequest,
    ResponseMode,
    StatusCode,
    StatusInfo,
    Subscriber,
)
from app.schemas.user import Principal
from app.services.errors import InvalidInput, NotFound
from app.services.new_jobs import allowed_callback_url
from app.services.ogc.documents import (
    STATUS_CODES,
    results_document,
    status_info,
)
from app.services.ogc.errors import JobFailed, NoSuchJob, ResultNotReady
from app.services.ogc.inputs import tool_inputs
from app.services.ogc.processes import process_tool
from app.services.use_cases import job_waiting
from app.services.use_cases import jobs as job_service

STATES = {code: state for state, code in STATUS_CODES.items()}
# How many rows one page of the job list looks at, at most, for jobs that pass the
# duration filters (computed here, so that SQLite and PostgreSQL read them alike).
SCAN_ROWS_PER_PAGE = 1000
_MOMENT: TypeAdapter[datetime] = TypeAdapter(UtcDatetime)


@dataclass(frozen=True)
class JobListFilters:
    process_ids: Sequence[str] | None = None
    statuses: Sequence[StatusCode] | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    min_duration_seconds: int | None = None
    max_duration_seconds: int | None = None


@dataclass(frozen=True)
class Results:
    """The outputs the execute request chose: values, and artifacts as links."""

    job_id: uuid.UUID
    outputs: dict[str, object]
    artifact_names: frozenset[str]
    raw: bool


def job_list_filters(
    *,
    process_ids: str | None,
    statuses: str | None,
    interval: str | None,
    min_duration_seconds: int | None,
    max_duration_seconds: int | None,
    types: str | None,
) -> JobListFilters:
    """The job list's query parameters, read as the standard spells them."""
    created_from, created_to = _interval(interval)
    # Every job here is of type `process`: asking for only other types finds nothing.
    wanted_types = _comma_list(types)
    return JobListFilters(
        process_ids=[]
        if wanted_types is not None and "process" not in wanted_types
        else (_comma_list(process_ids)),
        statuses=_statuses(statuses),
        created_from=created_from,
        created_to=created_to,
        min_duration_seconds=min_duration_seconds,
        max_duration_seconds=max_duration_seconds,
    )


def _comma_list(value: str | None) -> list[str] | None:
    return None if value is None else [item.strip() for item in value.split(",") if item.strip()]


def _statuses(value: str | None) -> list[StatusCode] | None:
    names = _comma_list(value)
    if names is None:
        return None
    try:
        return [StatusCode(name) for name in names]
    except ValueError:
        allowed = ", ".join(code.value for code in StatusCode)
        raise InvalidInput.at(("status",), f"each status is one of {allowed}", "enum") from None


def _interval(value: str | None) -> tuple[datetime | None, datetime | None]:
    """An instant, or `start/end` where either end may be `..` (open)."""
    if value is None:
        return None, None
    start, slash, end = value.partition("/")
    try:
        if not slash:
            instant = _MOMENT.validate_python(value)
            return instant, instant
        return (
            None if start in ("", "..") else _MOMENT.validate_python(start),
            None if end in ("", "..") else _MOMENT.validate_python(end),
        )
    except ValidationError:
        raise InvalidInput.at(
            ("datetime",),
            "an RFC 3339 instant, or an interval start/end (`..` for an open end)",
            "datetime_parsing",
        ) from None


def execute(
    session: Session,
    owner: Principal,
    process_id: str,
    request: ExecuteRequest,
    *,
    origin: str,
    ogc_base: str,
) -> JobRead:
    """Validate the inputs as the REST API does (references fetched or resolved first),
    then queue the job."""
    tool = process_tool(process_id)
    subscriber = None if request.subscriber is None else _allowed_subscriber(request.subscriber)
    with tool_inputs(session, owner, tool, request.inputs, origin) as inputs:
        job, _ = job_service.submit_job(
            session,
            owner,
            tool.name,
            inputs,
            options=JobOptions(priority=request.priority, labels=request.labels),
            ogc_results={
                "response": request.response.value,
                "outputs": None if request.outputs is None else sorted(request.outputs),
                "subscriber": subscriber,
                # Where a callback's links lead: the addresses the client used.
                "ogc_base": ogc_base,
                "api_base": f"{origin}{settings.API_V1_STR}",
            },
        )
    return job


async def wait_for_end(
    sessions: sessionmaker[Session], principal: Principal, job: JobRead
) -> JobRead:
    """The job once it ended, or as it is after OGC_SYNC_WAIT_SECONDS."""
    if not settings.OGC_SYNC_WAIT_SECONDS:
        return job
    await job_waiting.wait_until_ended(job, settings.OGC_SYNC_WAIT_SECONDS)
    return await run_sync(_read_in_new_session, sessions, principal, job.id)


def read_job(session: Session, principal: Principal, job_id: str) -> JobRead:
    try:
        return job_service.read_job(session, principal, uuid.UUID(job_id))
    except (ValueError, NotFound):
        raise NoSuchJob(f"no job {job_id!r}") from None


def _read_in_new_session(
    sessions: sessionmaker[Session], principal: Principal, job_id: uuid.UUID
) -> JobRead:
    with sessions() as session:
        return read_job(session, principal, str(job_id))


def list_jobs(
    session: Session,
    principal: Principal,
    filters: JobListFilters,
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[JobRead], str | None]:
    """A page of jobs, newest first, and the cursor of the next page (None at the end)."""
    found: list[JobRead] = []
    last_found: Job | None = None
    before = None if cursor is None else job_service.decode_cursor(cursor)
    for _ in range(0, SCAN_ROWS_PER_PAGE, limit + 1):
        rows = job_crud.list_jobs(
            session,
            owner_id=None if principal.is_superuser else principal.id,
            tools=filters.process_ids,
            states=None if filters.statuses is None else [STATES[s] for s in filters.statuses],
            created_after=_just_before(filters.created_from),
            created_before=_just_after(filters.created_to),
            before=before,
            limit=limit + 1,
        )
        for row in rows:
            if not _duration_passes(row, filters):
                continue
            if last_found is not None and len(found) == limit:
                # One more job follows: the next page starts after the last one here.
                return found, job_service.encode_cursor(last_found)
            found.append(JobRead.model_validate(row))
            last_found = row
        if len(rows) <= limit:
            return found, None
        before = (rows[-1].created_at, rows[-1].id)
    # Many rows failed the duration filters: the next page goes on from the last looked at.
    return found, None if before is None else job_service.encode_cursor_at(*before)


def results(session: Session, principal: Principal, job_id: str, api_base: str) -> Results:
    job = read_job(session, principal, job_id)
    if not job.state.is_terminal:
        raise ResultNotReady("the job has not ended yet")
    if job.state is not JobState.succeeded:
        message = "the job was dismissed" if job.state is JobState.cancelled else "the job failed"
        raise JobFailed(message, job.error)
    row = job_crud.get_job(session, job.id)
    asked = (row.ogc_results if row is not None else None) or {}
    artifacts = {a.name: a.content_type for a in artifact_crud.list_artifacts(session, job.id)}
    return Results(
        job_id=job.id,
        outputs=results_document(job, artifacts, asked, api_base),
        artifact_names=frozenset(artifacts) - set(job.outputs or {}),
        raw=asked.get("response", ResponseMode.raw) == ResponseMode.raw,
    )


def dismiss(
    session: Session, principal: Principal, job_id: str, base: str, api_base: str
) -> StatusInfo:
    """A job that may still run is cancelled; an ended one is deleted with its files."""
    job = read_job(session, principal, job_id)
    if job.state.is_terminal:
        job_service.delete_job(session, principal, job.id)
    else:
        job = job_service.cancel_job(session, principal, job.id)
    return status_info(job, base, api_base, status=StatusCode.dismissed)


def _allowed_subscriber(subscriber: Subscriber) -> dict[str, str]:
    """The callback URLs, checked as a REST `callback_url` is."""
    urls: dict[str, str] = subscriber.model_dump(mode="json", exclude_none=True)
    return {name: allowed_callback_url(url, ("subscriber", name)) for name, url in urls.items()}


def _duration_passes(row: Job, filters: JobListFilters) -> bool:
    if filters.min_duration_seconds is None and filters.max_duration_seconds is None:
        return True
    if row.started_at is None:
        return False
    seconds = ((row.finished_at or utcnow()) - row.started_at).total_seconds()
    if filters.min_duration_seconds is not None and seconds < filters.min_duration_seconds:
        return False
    return filters.max_duration_seconds is None or seconds <= filters.max_duration_seconds


def _just_before(moment: datetime | None) -> datetime | None:
    # The standard's intervals include their ends; the job list's bounds do not.
    return None if moment is None else moment - timedelta(microseconds=1)


def _just_after(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment + timedelta(microseconds=1)
