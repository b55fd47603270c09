"""What every route that submits a job shares: the Idempotency-Key header, the answers
it documents, and the 202 with the job's address."""

from typing import Annotated

from fastapi import Header, Response, status

from app.api.links import JOB_LINKS
from app.api.responses import Responses, error
from app.core.config import settings
from app.schemas.job import IDEMPOTENCY_KEY_MAX_LENGTH, IDEMPOTENCY_KEY_PATTERN, JobRead

# A file id in the inputs is an id like any other: unknown or someone else's is a 404.
UNKNOWN_FILE = error(
    "An input names a file that does not exist or is not yours (the detail names the "
    "field): upload it with POST /files first."
)

SUBMIT_RESPONSES: Responses = {
    200: {
        "description": "The Idempotency-Key replayed an earlier submission: its job.",
        **JOB_LINKS,
    },
    202: JOB_LINKS,
    404: UNKNOWN_FILE,
    409: error("The Idempotency-Key was used for a different request."),
    422: {"description": "Unknown tool, or inputs that fail the tool's model (see `loc`)."},
    429: error(
        "Too many submissions, or your queued jobs are at your limit (the detail names "
        "which): try again after `Retry-After` seconds."
    ),
    503: error("The queue is down; nothing was submitted."),
}

IdempotencyKey = Annotated[
    str | None,
    Header(
        max_length=IDEMPOTENCY_KEY_MAX_LENGTH,
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="Submitting again with the same key and request gives the same job.",
    ),
]


def accepted(job: JobRead, *, created: bool) -> Response:
    """202 with the job's address when it was queued now; 200 when an Idempotency-Key
    replayed an earlier submission. The JSON is written here, once: the route declares
    `response_model=JobRead` for the documentation only."""
    return Response(
        job.model_dump_json(),
        status_code=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK,
        media_type="application/json",
        headers={"Location": f"{settings.API_V1_STR}/jobs/{job.id}"},
    )
