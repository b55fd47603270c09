import re
import uuid
from datetime import UTC, datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    UrlConstraints,
)

from app.models.job import JobError, JobState
from app.schemas.request_body import JSON_INTEGER, RequestBody


def in_utc(moment: datetime) -> datetime:
    # PostgreSQL takes offsets up to 15:59, Python up to 23:59: in UTC every offset is
    # one it takes. Without a zone, a moment is read as UTC.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range once in UTC") from None


def date_time_text(value: object) -> object:
    """Only RFC 3339 text, as `format: date-time` says: pydantic's lax mode would also
    read a number, or a number written as text, as seconds since 1970."""
    if isinstance(value, datetime) or (
        isinstance(value, str) and re.match(r"[0-9]{4}-", value) is not None
    ):
        return value
    raise ValueError("not an RFC 3339 date-time, such as 2026-12-03T10:00:00Z")


UtcDatetime = Annotated[datetime, BeforeValidator(date_time_text), AfterValidator(in_utc)]

Priority = Annotated[
    int,
    Field(ge=0, le=9, description="0 (lowest) to 9 (most urgent); default 5."),
    JSON_INTEGER,
]
LabelKey = Annotated[str, StringConstraints(min_length=1, max_length=63)]
LabelValue = Annotated[str, StringConstraints(max_length=255)]
Labels = Annotated[
    dict[LabelKey, LabelValue],
    Field(
        max_length=32,
        description="Free key/value tags to filter jobs by: up to 32, keys of 1 to 63 "
        "characters, values up to 255.",
    ),
]


class JobOptions(RequestBody):
    """What a submitter may set besides the tool and its inputs."""

    priority: Priority = 5
    labels: Labels = Field(default_factory=dict)
    callback_url: Annotated[AnyHttpUrl, UrlConstraints(max_length=2048)] | None = Field(
        default=None,
        description="POSTed the job (signed, see README) when it ends. http or https "
        "only, to a public address: a URL whose host is or resolves to a loopback, "
        "private, link-local, multicast or reserved address (in any spelling) is refused, "
        "with a 422 when the address is written in the URL or the host is localhost, and "
        "at delivery when a name resolves to one, unless the operator allow-listed it. "
        "Redirects are not followed; the answer must come within seconds.",
    )


class JobCreate(JobOptions):
    tool: str = Field(min_length=1, max_length=100, description="A tool name from GET /tools.")
    inputs: dict[str, object] = Field(
        default_factory=dict, description="Validated against the tool's inputs_schema."
    )


# No control characters: PostgreSQL text cannot hold NUL, and none belongs in a key.
IDEMPOTENCY_KEY_PATTERN = r"^[^\x00-\x1f\x7f]+$"
IDEMPOTENCY_KEY_MAX_LENGTH = 255
IdempotencyKeyValue = Annotated[
    str, StringConstraints(max_length=IDEMPOTENCY_KEY_MAX_LENGTH, pattern=IDEMPOTENCY_KEY_PATTERN)
]

MAX_BATCH_JOBS = 1000

# A page's end: microseconds since 1970, then the last job's id (app.services.use_cases.jobs).
CURSOR_PATTERN = r"^[0-9]{1,17}-[0-9a-f]{32}$"


class JobBatchItem(JobCreate):
    idempotency_key: IdempotencyKeyValue | None = Field(
        default=None,
        description="As the Idempotency-Key header of POST /jobs, for this job.",
    )


class JobBatchCreate(RequestBody):
    jobs: list[JobBatchItem] = Field(min_length=1, max_length=MAX_BATCH_JOBS)


class JobBatchAccepted(BaseModel):
    ids: list[uuid.UUID] = Field(description="The jobs' ids, in the order they were sent.")


class JobRead(BaseModel):
    """A job as clients see it; also the snapshot kept in Redis."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    owner_id: uuid.UUID
    tool: str
    tool_version: str
    inputs: dict[str, object]
    state: JobState
    progress: float
    message: str | None
    outputs: dict[str, object] | None
    error: JobError | None
    priority: int
    attempt: int
    max_attempts: int
    labels: dict[str, str]
    callback_url: str | None
    cancel_requested: bool
    schedule_id: uuid.UUID | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime


class JobPage(BaseModel):
    items: list[JobRead]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


class JobFilters(BaseModel):
    """Query parameters of the job list; all optional, all combined."""

    tool: str | None = Field(default=None, max_length=100)
    state: JobState | None = None
    label: str | None = Field(
        default=None,
        pattern=r"^[^:]{1,63}:.{0,255}$",
        description="`key:value`: jobs whose label `key` is `value`.",
    )
    created_after: UtcDatetime | None = None
    created_before: UtcDatetime | None = None
    schedule_id: uuid.UUID | None = None
