import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import StreamingResponse

from app.api.deps import CurrentPrincipal, SessionDep
from app.api.downloads import download
from app.api.responses import Responses, not_found
from app.core.config import settings
from app.models.job import JobState
from app.schemas.file import ArtifactRead
from app.schemas.job import JobCreate, JobPage, JobRead
from app.services import artifacts as artifact_service
from app.services import jobs as job_service

router = APIRouter(prefix="/jobs", tags=["jobs"])

NOT_FOUND = not_found("No such job, or not yours.")
SUBMIT_RESPONSES: Responses = {
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


@router.get(
    "/{job_id}/artifacts",
    summary="List a job's artifacts",
    description="The output files of the job: name, size, sha256 and content type.",
    responses=NOT_FOUND,
)
def list_artifacts(
    session: SessionDep, principal: CurrentPrincipal, job_id: uuid.UUID
) -> list[ArtifactRead]:
    artifacts = artifact_service.list_artifacts(session, principal, job_id)
    return [ArtifactRead.model_validate(artifact) for artifact in artifacts]


@router.get(
    "/{job_id}/artifacts/{name}",
    summary="Download an artifact",
    description="The artifact's bytes. Names are plain file names.",
    response_class=StreamingResponse,
    responses=not_found("No such job or artifact, or not yours."),
)
def read_artifact(
    session: SessionDep, principal: CurrentPrincipal, job_id: uuid.UUID, name: str
) -> StreamingResponse:
    artifact, stream = artifact_service.open_artifact(session, principal, job_id, name)
    return download(stream, artifact.name, artifact.content_type, artifact.size)
