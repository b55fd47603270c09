"""The documents of OGC API - Processes - Part 1: Core 1.0 (OGC 18-062r2), JSON encoding.

Field names are the standard's (camelCase where it says so), so that an OGC client reads
them as they are."""
# ruff: noqa: N815

import enum
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, UrlConstraints

from app.schemas.job import Labels, Priority

OGC_REL = "http://www.opengis.net/def/rel/ogc/1.0"
OGC_CONFORMANCE = "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf"

# An RFC 3339 instant as the job list's `datetime` takes it: days each month has (the
# 29th of February left out), years 1000 to 8999 (any offset stays a year Python has).
_DAY = (
    "(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    "|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
_INSTANT = (
    rf"[1-8][0-9]{{3}}-{_DAY}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{{1,6}})?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)
# An instant, or an interval whose either end may be open (`..`).
INTERVAL_PATTERN = rf"^(?:{_INSTANT}|(?:{_INSTANT}|\.\.)/(?:{_INSTANT}|\.\.))$"


class Link(BaseModel):
    href: str
    rel: str
    type: str | None = None
    title: str | None = None


class LandingPage(BaseModel):
    title: str
    description: str
    links: list[Link]


class Conformance(BaseModel):
    conformsTo: list[str]


class JobControl(enum.StrEnum):
    sync_execute = "sync-execute"
    async_execute = "async-execute"


class Transmission(enum.StrEnum):
    value = "value"
    reference = "reference"


class ProcessSummary(BaseModel):
    id: str
    version: str
    title: str
    description: str
    jobControlOptions: list[JobControl]
    outputTransmission: list[Transmission]
    links: list[Link]


class InputDescription(BaseModel):
    title: str
    description: str | None = None
    schema_: dict[str, object] = Field(alias="schema", serialization_alias="schema")
    minOccurs: int = 1
    maxOccurs: int | Literal["unbounded"] = 1

    model_config = ConfigDict(populate_by_name=True)


class OutputDescription(BaseModel):
    title: str
    description: str | None = None
    schema_: dict[str, object] = Field(alias="schema", serialization_alias="schema")

    model_config = ConfigDict(populate_by_name=True)


class ProcessDescription(ProcessSummary):
    inputs: dict[str, InputDescription]
    outputs: dict[str, OutputDescription]


class ProcessList(BaseModel):
    processes: list[ProcessSummary]
    links: list[Link]


class OutputRequest(BaseModel):
    transmissionMode: Transmission = Transmission.value


CallbackUrl = Annotated[AnyHttpUrl, UrlConstraints(max_length=2048)]


class Subscriber(BaseModel):
    """Where the job is POSTed (signed as a REST webhook, see README): the results
    document when it succeeded, its exception report when it failed or was dismissed,
    its status info when it starts running. Public addresses only, as `callback_url`."""

    successUri: CallbackUrl
    inProgressUri: CallbackUrl | None = None
    failedUri: CallbackUrl | None = None


class ResponseMode(enum.StrEnum):
    raw = "raw"
    document = "document"


class ExecuteRequest(BaseModel):
    """An execute request. Each input is a literal value, a qualified value
    `{"value": ..., "mediaType": ...}`, or a reference `{"href": ...}`; a file input
    takes a reference to a file of ours (`/api/v1/files/{id}`), a URL the server may
    fetch (under the outbound policy of webhooks), or its content in base64."""

    inputs: dict[str, object] = Field(default_factory=dict)
    outputs: dict[str, OutputRequest] | None = Field(
        default=None, description="The outputs to return (all when absent)."
    )
    response: ResponseMode = ResponseMode.raw
    subscriber: Subscriber | None = None
    # tooljobs' own options, beyond the standard.
    priority: Priority = 5
    labels: Labels = Field(default_factory=dict)


class StatusCode(enum.StrEnum):
    accepted = "accepted"
    running = "running"
    successful = "successful"
    failed = "failed"
    dismissed = "dismissed"


# The job list's `status`: statuses, comma-separated.
STATUS_LIST_PATTERN = rf"^(?:{'|'.join(StatusCode)})(?:,(?:{'|'.join(StatusCode)}))*$"


class StatusInfo(BaseModel):
    processID: str
    type: Literal["process"] = "process"
    jobID: str
    status: StatusCode
    message: str | None = None
    created: datetime
    started: datetime | None = None
    finished: datetime | None = None
    updated: datetime
    progress: int = Field(ge=0, le=100)
    links: list[Link]


class JobList(BaseModel):
    jobs: list[StatusInfo]
    links: list[Link]


class OgcException(BaseModel):
    """An exception report (RFC 7807 problem details, as the standard uses them)."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
