"""The routes of OGC API - Processes - Part 1: Core: thin, as every route here."""

from typing import Annotated, Any

from anyio.to_thread import run_sync
from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.responses import JSONResponse

from app.api.deps import CurrentPrincipal, SessionDep
from app.api.downloads import REDIRECT, download_response
from app.api.responses import Responses
from app.core.config import settings
from app.db.session import SessionLocal
from app.schemas.job import CURSOR_PATTERN, JobRead
from app.schemas.ogc import (
    INTERVAL_PATTERN,
    OGC_CONFORMANCE,
    OGC_REL,
    STATUS_LIST_PATTERN,
    Conformance,
    ExecuteRequest,
    JobList,
    LandingPage,
    Link,
    OgcException,
    ProcessDescription,
    ProcessList,
    StatusInfo,
)
from app.schemas.user import Principal
from app.services.ogc import jobs as ogc_jobs
from app.services.ogc import processes as ogc_processes
from app.services.ogc.documents import status_info
from app.services.use_cases import artifacts as artifact_service

router = APIRouter()

CONFORMANCE_CLASSES = [
    *["core", "ogc-process-description", "json", "oas30", "job-list", "dismiss", "callback"]
]
EXCEPTION: dict[str, Any] = {"model": OgcException, "description": "An exception report."}
# The landing page's links: path below /ogc, relation, media type, title.
LANDING_LINKS = [
    ("/", "self", "application/json", "This page"),
    ("/api", "service-desc", "application/vnd.oai.openapi+json;version=3.0", "The API definition"),
    ("/api.html", "service-doc", "text/html", "The API documentation"),
    ("/conformance", f"{OGC_REL}/conformance", "application/json", "Conformance classes"),
    ("/processes", f"{OGC_REL}/processes", "application/json", "The processes"),
    ("/jobs", f"{OGC_REL}/job-list", "application/json", "The jobs"),
]
NO_SUCH_JOB: Responses = {
    404: {**EXCEPTION, "description": "No such job, or not yours (no-such-job)."}
}


def _base(request: Request) -> str:
    """This face's URL as the client reached it (behind a proxy: its forwarded headers)."""
    # Inside the mount, `root_path` is where this application starts ("/ogc").
    return str(request.url.replace(path=request.scope.get("root_path", ""), query="")).rstrip("/")


def _origin(request: Request) -> str:
    return f"{request.base_url.scheme}://{request.base_url.netloc}"


def _api_base(request: Request) -> str:
    """The REST API's URL as the client reached this server."""
    return f"{str(request.base_url).rstrip('/')}{settings.API_V1_STR}"


@router.get(
    "/",
    summary="Landing page",
    description="Links to the API definition, the conformance classes, the processes and the jobs.",
)
def landing_page(request: Request) -> LandingPage:
    base = _base(request)
    return LandingPage(
        title=f"{settings.PROJECT_NAME}: OGC API - Processes",
        description="Every tool as a process; the same jobs as the REST API at "
        f"{settings.API_V1_STR}.",
        links=[
            Link(href=f"{base}{path}", rel=rel, type=media_type, title=title)
            for path, rel, media_type, title in LANDING_LINKS
        ],
    )


@router.get(
    "/conformance",
    summary="Conformance classes",
    description="The classes of OGC API - Processes - Part 1 this server passes.",
)
def conformance() -> Conformance:
    return Conformance(conformsTo=[f"{OGC_CONFORMANCE}/{name}" for name in CONFORMANCE_CLASSES])


@router.get(
    "/processes", summary="List the processes", description="Every tool, as a process summary."
)
def list_processes(
    request: Request,
    _: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> ProcessList:
    return ogc_processes.list_processes(_base(request), limit=limit)


@router.get(
    "/processes/{process_id}",
    summary="Describe a process",
    description="Its inputs (file inputs as binary values) and outputs, with JSON Schemas.",
    responses={404: {**EXCEPTION, "description": "No such process (no-such-process)."}},
    response_model_by_alias=True,
)
def describe_process(request: Request, _: CurrentPrincipal, process_id: str) -> ProcessDescription:
    return ogc_processes.describe_process(process_id, _base(request))


@router.post(
    "/processes/{process_id}/execution",
    summary="Execute a process",
    description="Queues a job. With `Prefer: respond-async` the answer is 201 with the "
    "job's status and its `Location`. Otherwise the request waits for the job and answers "
    "its results, or the job's error; a job that has not ended within OGC_SYNC_WAIT_SECONDS "
    "is answered 201 as above. Inputs are validated as by POST /api/v1/jobs; an invalid "
    "one is a 400 naming it.",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "The results (synchronous execution)."},
        201: {"model": StatusInfo, "description": "The job was queued (asynchronous)."},
        400: {**EXCEPTION, "description": "Invalid inputs; `errors` names each."},
        404: {**EXCEPTION, "description": "No such process (no-such-process)."},
        429: {**EXCEPTION, "description": "Too many submissions, or too many queued jobs."},
        503: {**EXCEPTION, "description": "The queue is down; nothing was queued."},
    },
)
async def execute(
    request: Request,
    principal: CurrentPrincipal,
    process_id: str,
    body: ExecuteRequest,
    prefer: Annotated[str | None, Header(description="`respond-async` asks for 201.")] = None,
) -> Response:
    job = await run_sync(_execute, principal, process_id, body, request)
    respond_async = "respond-async" in {
        token.strip().lower() for token in (prefer or "").split(",")
    }
    if not respond_async:
        job = await ogc_jobs.wait_for_end(SessionLocal, principal, job)
        if job.state.is_terminal:
            return await run_sync(_results, principal, str(job.id), _api_base(request))
    info = status_info(job, _base(request), _api_base(request))
    headers = {"Location": f"{_base(request)}/jobs/{job.id}"}
    if respond_async:
        headers["Preference-Applied"] = "respond-async"
    return JSONResponse(info.model_dump(mode="json"), status_code=201, headers=headers)


def _execute(
    principal: Principal, process_id: str, body: ExecuteRequest, request: Request
) -> JobRead:
    with SessionLocal() as session:
        return ogc_jobs.execute(
            session, principal, process_id, body, origin=_origin(request), ogc_base=_base(request)
        )


@router.get(
    "/jobs",
    summary="List jobs",
    description="Your jobs (everyone's for a superuser), newest first. `processID` and "
    "`status` take comma-separated values; `datetime` an instant or an interval "
    "(`start/end`, `../end`, `start/..`) of creation; durations are seconds from start to "
    "end (to now while running). The `next` link carries the next page's cursor.",
)
def list_jobs(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    processID: Annotated[str | None, Query(max_length=2000)] = None,  # noqa: N803
    status: Annotated[str | None, Query(max_length=200, pattern=STATUS_LIST_PATTERN)] = None,
    datetime_: Annotated[
        str | None, Query(alias="datetime", max_length=100, pattern=INTERVAL_PATTERN)
    ] = None,
    minDuration: Annotated[int | None, Query(ge=0)] = None,  # noqa: N803
    maxDuration: Annotated[int | None, Query(ge=0)] = None,  # noqa: N803
    type: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
    cursor: Annotated[str | None, Query(pattern=CURSOR_PATTERN)] = None,
) -> JobList:
    filters = ogc_jobs.job_list_filters(
        process_ids=processID,
        statuses=status,
        interval=datetime_,
        min_duration_seconds=minDuration,
        max_duration_seconds=maxDuration,
        types=type,
    )
    base = _base(request)
    jobs, next_cursor = ogc_jobs.list_jobs(session, principal, filters, limit=limit, cursor=cursor)
    links = [Link(href=str(request.url), rel="self", type="application/json")]
    if next_cursor is not None:
        links.append(
            Link(
                href=str(request.url.include_query_params(cursor=next_cursor)),
                rel="next",
                type="application/json",
            )
        )
    api_base = _api_base(request)
    return JobList(jobs=[status_info(job, base, api_base) for job in jobs], links=links)


@router.get(
    "/jobs/{job_id}",
    summary="A job's status",
    description="The status info.",
    responses=NO_SUCH_JOB,
)
def read_job(
    request: Request, session: SessionDep, principal: CurrentPrincipal, job_id: str
) -> StatusInfo:
    job = ogc_jobs.read_job(session, principal, job_id)
    return status_info(job, _base(request), _api_base(request))


@router.get(
    "/jobs/{job_id}/results",
    summary="A job's results",
    description="As the execute request asked: `document` (every chosen output by its id; "
    "artifacts as links that download) or `raw` (one output's value, or an artifact's "
    "bytes; several outputs answer the document).",
    responses={
        200: {"description": "The results."},
        **REDIRECT,
        400: {**EXCEPTION, "description": "The job failed or was dismissed: its error."},
        404: {
            **EXCEPTION,
            "description": "No such job (no-such-job), or it has not ended (result-not-ready).",
        },
    },
)
def read_results(request: Request, principal: CurrentPrincipal, job_id: str) -> Response:
    return _results(principal, job_id, _api_base(request))


def _results(principal: Principal, job_id: str, api_base: str) -> Response:
    with SessionLocal() as session:
        results = ogc_jobs.results(session, principal, job_id, api_base)
        if results.raw and len(results.outputs) == 1:
            ((name, value),) = results.outputs.items()
            if name in results.artifact_names:
                return download_response(
                    artifact_service.download_artifact(session, principal, results.job_id, name)
                )
            return JSONResponse(value)
        return JSONResponse(results.outputs)


@router.delete(
    "/jobs/{job_id}",
    summary="Dismiss a job",
    description="A job that may still run is cancelled; an ended job is deleted with its "
    "files. The answer is its status info, `dismissed`.",
    responses=NO_SUCH_JOB,
)
def dismiss_job(
    request: Request, session: SessionDep, principal: CurrentPrincipal, job_id: str
) -> StatusInfo:
    return ogc_jobs.dismiss(session, principal, job_id, _base(request), _api_base(request))
