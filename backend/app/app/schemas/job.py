import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    UrlConstraints,
)

from app.models.job import JobState

Priority = Annotated[
    int, Field(ge=0, le=9, description="0 (lowest) to 9 (most urgent); default 5.")
]
LabelKey = Annotated[str, StringConstraints(min_length=1, max_length=63)]
LabelValue = Annotated[str, StringConstraints(max_length=255)]
Labels = Annotated[
    dict[LabelKey, LabelValue],
    Field(max_length=32, description="Free key/value tags to filter jobs by."),
]


class JobOptions(BaseModel):
    """What a submitter may set besides the tool and its inputs."""

    priority: Priority = 5
    labels: Labels = Field(default_factory=dict)
    callback_url: Annotated[AnyHttpUrl, UrlConstraints(max_length=2048)] | None = Field(
        default=None,
        description="POSTed the job (signed, see README) when it ends.",
    )


class JobCreate(JobOptions):
    tool: str = Field(min_length=1, max_length=100, description="A tool name from GET /tools.")
    inputs: dict[str, Any] = Field(
        default_factory=dict, description="Validated against the tool's inputs_schema."
    )


class JobRead(BaseModel):
    """A job as clients see it; also the snapshot kept in Redis."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    owner_id: uuid.UUID
    tool: str
    tool_version: str
    inputs: dict[str, Any]
    state: JobState
    progress: float
    message: str | None
    outputs: dict[str, Any] | None
    error: dict[str, Any] | None
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
    created_after: datetime | None = None
    created_before: datetime | None = None
    schedule_id: uuid.UUID | None = None
