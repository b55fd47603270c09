"""A client for tooljobs servers: submit jobs, follow them, read their outputs and logs,
download their artifacts.

    from tooljobs_client import Client

    with Client("http://127.0.0.1:8000", api_key="tj_...") as client:
        job = client.submit("compress", files={"file": "notes.txt"}, level=9)
        job.wait(timeout=600)
        job.download("notes.txt.gz", ".")
"""

from tooljobs_client.client import Client
from tooljobs_client.errors import (
    ApiError,
    BadRequest,
    Conflict,
    FieldError,
    Forbidden,
    Gone,
    InvalidInput,
    NotFound,
    RateLimited,
    ServerError,
    ServiceUnavailable,
    TooLarge,
    TooljobsError,
    Unauthorized,
    Unreachable,
    WaitTimeout,
)
from tooljobs_client.job import Job
from tooljobs_client.models import TERMINAL_STATES, Artifact, JobState, Tool, UploadedFile

__all__ = [
    "TERMINAL_STATES",
    "ApiError",
    "Artifact",
    "BadRequest",
    "Client",
    "Conflict",
    "FieldError",
    "Forbidden",
    "Gone",
    "InvalidInput",
    "Job",
    "JobState",
    "NotFound",
    "RateLimited",
    "ServerError",
    "ServiceUnavailable",
    "TooLarge",
    "Tool",
    "TooljobsError",
    "Unauthorized",
    "Unreachable",
    "UploadedFile",
    "WaitTimeout",
]
