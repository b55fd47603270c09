import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from app.api.deps import CurrentPrincipal, SessionDep
from app.core.config import settings
from app.models.job import JobState
from app.schemas.job import JobCreate, JobPage, JobRead
from app.services import jobs as job_service

router = APIRouter(prefix="/jobs", tags=["jobs"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such job, or not yours."}}
SUBMIT_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {"description": "Unknown tool, or inputs that fail the tool's model (see `loc`)."},
    503: {"description": "The queue is down; nothing was submitted."},
}


def accepted(response: Response, job: JobRead) -> JobRead:
    """202 with the job's address: the job is recorded and queued, not done."""
    response.status_code = status.HTTP_202_ACCEPTED
    response.headers["Location"] = f"{settings.API_V1_STR}/jobs/{job.id}"
    return job


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Submit a job",
    description="Queue a run of `tool` with `inputs`. The answer is the queued job; "
    "poll its `Location` for the state. `POST /tools/{name}/jobs` does the same with "
    "the tool's typed inputs.",
    responses=SUBMIT_RESPONSES,
)
def submit_job(
    session: SessionDep, principal: CurrentPrincipal, response: Response, body: JobCreate
) -> JobRead:
    job = job_service.submit_job(session, principal, body.tool, body.inputs, options=body)
    return accepted(response, job)


@router.get(
    "",
    summary="List jobs",
    description="Your jobs (every job for a superuser), newest first. Pass `next_cursor` "
    "back as `cursor` for the next page.",
)
def list_jobs(
    session: SessionDep,
    principal: CurrentPrincipal,
    tool: Annotated[str | None, Query(max_length=100)] = None,
    state: JobState | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> JobPage:
    return job_service.list_jobs(
        session, principal, tool=tool, state=state, limit=limit, cursor=cursor
    )


@router.get(
    "/{job_id}",
    summary="Get a job",
    description="State, progress, message, and outputs or error once it ended.",
    responses=NOT_FOUND,
)
def read_job(session: SessionDep, principal: CurrentPrincipal, job_id: uuid.UUID) -> JobRead:
    return job_service.read_job(session, principal, job_id)
