import hashlib
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status
from fastapi.responses import PlainTextResponse, StreamingResponse
from sse_starlette import EventSourceResponse, ServerSentEvent

from app.api.deps import CurrentPrincipal, Offset, SessionDep, StatementSessionDep
from app.api.downloads import download_response, download_responses
from app.api.links import ARTIFACT_LINKS, FIRST_JOB_LINKS
from app.api.responses import Responses, error, not_found
from app.api.routing import ApiRoute
from app.api.submissions import SUBMIT_RESPONSES, UNKNOWN_FILE, IdempotencyKey, accepted
from app.db.session import SessionLocal
from app.schemas.file import ArtifactRead
from app.schemas.job import (
    CURSOR_PATTERN,
    JobBatchAccepted,
    JobBatchCreate,
    JobCreate,
    JobFilters,
    JobPage,
    JobRead,
)
from app.services import rate_limits
from app.services.use_cases import artifacts as artifact_service
from app.services.use_cases import job_waiting
from app.services.use_cases import jobs as job_service
from app.services.use_cases import logs as log_service

router = APIRouter(prefix="/jobs", tags=["jobs"], route_class=ApiRoute)

NOT_FOUND = not_found("No such job, or not yours.")
PURGED: Responses = {410: error("The job ended long ago and retention deleted it.")}


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Submit a job",
    description="Queue a run of `tool` with `inputs`. The answer is the queued job; "
    "poll its `Location` for the state. `POST /tools/{name}/jobs` does the same with "
    "the tool's typed inputs.",
    response_model=JobRead,
    responses=SUBMIT_RESPONSES,
)
def submit_job(
    session: StatementSessionDep,
    principal: CurrentPrincipal,
    body: JobCreate,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    job, created = job_service.submit_job(
        session, principal, body.tool, body.inputs, options=body, idempotency_key=idempotency_key
    )
    return accepted(job, created=created)


@router.post(
    "/batch",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Submit up to 1 000 jobs at once",
    description="Each item is a `POST /jobs` body, with its own optional "
    "`idempotency_key`. Every item is validated before any is queued: one bad item is a "
    '422 whose `loc` names its index (`["body", "jobs", 17, "inputs", ...]`) '
    "and nothing is queued. The jobs are recorded in one transaction and sent together; "
    "the answer lists their ids in the order of the request (an item whose key was used "
    "before gives the earlier job's id). Counts as one submit for the rate limit, and "
    "as all its new jobs for the queued-jobs limit: a 429 past it, with nothing queued.",
    response_model=JobBatchAccepted,
    responses={
        202: FIRST_JOB_LINKS,
        404: UNKNOWN_FILE,
        409: error("An item's idempotency_key was used for a different request."),
        422: {"description": "An invalid item; `loc` names its index and field."},
        429: SUBMIT_RESPONSES[429],
        503: SUBMIT_RESPONSES[503],
    },
)
def submit_jobs(
    session: SessionDep, principal: CurrentPrincipal, body: JobBatchCreate
) -> JobBatchAccepted:
    rate_limits.count_submit(principal.id)
    return JobBatchAccepted(ids=job_service.submit_jobs(session, principal, body.jobs))


@router.get(
    "",
    summary="List jobs",
    description="Your jobs (every job for a superuser), newest first, filtered by the "
    "parameters given. Pass `next_cursor` back as `cursor` for the next page.",
)
def list_jobs(
    session: SessionDep,
    principal: CurrentPrincipal,
    filters: Annotated[JobFilters, Query()],
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(pattern=CURSOR_PATTERN)] = None,
) -> JobPage:
    return job_service.list_jobs(session, principal, filters, limit=limit, cursor=cursor)


@router.get(
    "/{job_id:uuid}",
    summary="Get a job",
    description="State, progress, message, and outputs or error once it ended. With "
    "`wait=N` the answer waits until the job ended or N seconds passed. The `ETag` "
    "changes with the job; `If-None-Match` with the current one answers 304.",
    # The JSON is written by the route (from Redis as it is): the model documents it.
    response_model=JobRead,
    responses={
        **NOT_FOUND,
        304: {"description": "The job is as the `If-None-Match` ETag says."},
        **PURGED,
    },
)
async def read_job(
    principal: CurrentPrincipal,
    job_id: uuid.UUID,
    wait: Annotated[
        float, Query(ge=0, le=60, description="Seconds to wait for the job to end.")
    ] = 0,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    # The session factory, not a session: most polls are answered without SQL.
    body = await job_service.read_job_json(SessionLocal, principal, job_id)
    if wait:
        job = JobRead.model_validate_json(body)
        if not job.state.is_terminal:
            await job_waiting.wait_until_ended(job, wait)
            body = await job_service.read_job_json(SessionLocal, principal, job_id)
    etag = f'"{hashlib.blake2b(body, digest_size=12).hexdigest()}"'
    if if_none_match == etag:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
    return Response(body, media_type="application/json", headers={"ETag": etag})


@router.get(
    "/{job_id:uuid}/events",
    summary="Follow a job",
    description="Server-Sent Events: a `job` event with the whole job now, then one at "
    "each change (state, progress, message); the stream ends after the job ended. A "
    "client that reconnects with `Last-Event-ID` is not sent the event it already has.",
    response_class=EventSourceResponse,
    responses=NOT_FOUND,
)
def follow_job(
    session: SessionDep,
    principal: CurrentPrincipal,
    job_id: uuid.UUID,
    last_event_id: Annotated[str | None, Header()] = None,
) -> EventSourceResponse:
    job = job_service.read_job(session, principal, job_id)

    async def events() -> AsyncIterator[ServerSentEvent]:
        async for current in job_waiting.job_updates(job, timeout_seconds=None):
            current_id = job_waiting.event_id(current)
            if current_id != last_event_id:
                yield ServerSentEvent(current.model_dump_json(), event="job", id=current_id)

    return EventSourceResponse(events(), ping=15)


@router.get(
    "/{job_id:uuid}/logs",
    summary="Read a job's log",
    description="The lines the tool logged (a command-line tool's stdout and stderr), "
    "from line `offset` on; live while it runs. Follow it by asking again with the "
    "`X-Next-Offset` of the answer.",
    response_class=PlainTextResponse,
    responses=NOT_FOUND,
)
def read_log(
    session: SessionDep,
    principal: CurrentPrincipal,
    job_id: uuid.UUID,
    offset: Offset = 0,
) -> PlainTextResponse:
    lines, next_offset = log_service.read_log(session, principal, job_id, offset)
    text = "".join(f"{line}\n" for line in lines)
    return PlainTextResponse(text, headers={"X-Next-Offset": str(next_offset)})


@router.post(
    "/{job_id:uuid}/cancel",
    summary="Cancel a job",
    description="A queued job is cancelled at once; a running one is stopped within "
    "seconds and ends `cancelled` (the answer shows `cancel_requested`).",
    responses={**NOT_FOUND, 409: error("The job has already ended.")},
)
def cancel_job(session: SessionDep, principal: CurrentPrincipal, job_id: uuid.UUID) -> JobRead:
    return job_service.cancel_job(session, principal, job_id)


@router.delete(
    "/{job_id:uuid}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a job",
    description="An ended job, its log and its artifacts.",
    responses={**NOT_FOUND, 409: error("The job has not ended: cancel it first.")},
)
def delete_job(session: SessionDep, principal: CurrentPrincipal, job_id: uuid.UUID) -> None:
    job_service.delete_job(session, principal, job_id)


@router.get(
    "/{job_id:uuid}/artifacts",
    summary="List a job's artifacts",
    description="The output files of the job: name, size, sha256 and content type.",
    responses={200: ARTIFACT_LINKS, **NOT_FOUND, **PURGED},
)
def list_artifacts(
    session: SessionDep, principal: CurrentPrincipal, job_id: uuid.UUID
) -> list[ArtifactRead]:
    return artifact_service.list_artifacts(session, principal, job_id)


@router.get(
    "/{job_id:uuid}/artifacts/{name}",
    summary="Download an artifact",
    description="The artifact's bytes, or with S3 storage a 307 to a short-lived presigned "
    "URL of them. Names are plain file names.",
    response_class=StreamingResponse,
    responses={**download_responses("No such job or artifact, or not yours."), **PURGED},
)
def read_artifact(
    session: SessionDep, principal: CurrentPrincipal, job_id: uuid.UUID, name: str
) -> Response:
    return download_response(artifact_service.download_artifact(session, principal, job_id, name))
