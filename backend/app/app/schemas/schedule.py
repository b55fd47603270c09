import re
import uuid
from datetime import datetime
from typing import Annotated, Self
from zoneinfo import available_timezones

from croniter import croniter
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from app.models.schedule import Overlap
from app.schemas.job import Labels, Priority, date_time_text, in_utc
from app.schemas.request_body import JSON_INTEGER, JsonBool, RequestBody


def _names(*names: str) -> str:
    """Alternatives that match each name in any case: JSON Schema's regular expressions
    have no flag for that."""
    return "|".join("".join(f"[{c.lower()}{c.upper()}]" for c in name) for name in names)


def _cron_field(value: str) -> str:
    """A cron field: `*` or a value or a range, each with an optional step, listed with
    commas."""
    item = rf"(?:\*|(?:{value})(?:-(?:{value}))?)(?:/[1-9][0-9]?)?"
    return rf"{item}(?:,{item})*"


_MONTHS = _names("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = _names("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# Minute, hour, day of month, month, day of week (0 and 7 are Sunday), one space apart.
# Every expression it matches is one croniter reads (tests/test_schedules.py).
CRON_PATTERN = (
    "^"
    + " ".join(
        _cron_field(value)
        for value in (
            "[0-5]?[0-9]",
            "[01]?[0-9]|2[0-3]",
            "0?[1-9]|[12][0-9]|3[01]",
            f"0?[1-9]|1[0-2]|{_MONTHS}",
            f"[0-7]|{_DAYS}",
        )
    )
    + "$"
)
TIME_ZONES = frozenset(available_timezones())
# The zones as one alternation, for clients (a shared component of the OpenAPI document,
# app.api.stated_constraints; not an enum: some names differ only in signs, GMT+0 and
# GMT-0, which generated clients turn into one member name and then fail on).
TIME_ZONE_PATTERN = (
    "^(?:"
    + "|".join(re.sub(r"([.+*?()|\[\]{}^$\\])", r"\\\1", zone) for zone in sorted(TIME_ZONES))
    + ")$"
)


def _five_field_cron(value: str) -> str:
    if re.fullmatch(CRON_PATTERN, value) is None or not croniter.is_valid(value):
        raise ValueError("not a 5-field cron expression, such as '0 2 * * 1-5'")
    return value


def _iana_timezone(value: str) -> str:
    if value not in TIME_ZONES:
        raise ValueError("not an IANA time zone, such as 'Europe/Berlin'")
    return value


# The validators check the pattern and the zones and say what is wrong in a line; the
# JSON Schema states the pattern for clients.
Cron = Annotated[
    str,
    Field(
        max_length=100,
        description="5 fields, such as `0 2 * * 1-5`.",
        json_schema_extra={"pattern": CRON_PATTERN},
    ),
    AfterValidator(_five_field_cron),
]
TimeZone = Annotated[
    str,
    Field(
        max_length=64,
        description="An IANA time zone, such as `Europe/Berlin`.",
        json_schema_extra={"pattern": TIME_ZONE_PATTERN},
    ),
    AfterValidator(_iana_timezone),
]
# A zone is required (a schedule's window is not guessed); stored in UTC.
UtcAwareDatetime = Annotated[AwareDatetime, BeforeValidator(date_time_text), AfterValidator(in_utc)]
IntervalSeconds = Annotated[int, Field(ge=1, le=366 * 24 * 3600), JSON_INTEGER]


class ScheduleTiming(RequestBody):
    cron: Cron | None = Field(default=None, description="5 fields, read in `timezone`.")
    timezone: TimeZone = "UTC"
    interval_seconds: IntervalSeconds | None = None
    start_at: UtcAwareDatetime | None = None
    end_at: UtcAwareDatetime | None = None


class ScheduleCreate(ScheduleTiming):
    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                {
                    "oneOf": [
                        {"required": ["cron"], "properties": {"cron": {"type": "string"}}},
                        {
                            "required": ["interval_seconds"],
                            "properties": {"interval_seconds": {"type": "integer"}},
                        },
                    ]
                }
            ]
        }
    )

    name: str = Field(min_length=1, max_length=200)
    tool: str = Field(min_length=1, max_length=100)
    inputs: dict[str, object] = Field(default_factory=dict)
    priority: Priority = 5
    labels: Labels = Field(default_factory=dict)
    enabled: JsonBool = True
    overlap: Overlap = Field(
        default=Overlap.skip,
        description="`skip` a slot while this schedule's last job is queued or running.",
    )

    @model_validator(mode="after")
    def _one_timing(self) -> Self:
        if (self.cron is None) == (self.interval_seconds is None):
            raise ValueError("give exactly one of `cron` and `interval_seconds`")
        return self


# What PATCH may set to null: the window's ends, and one timing when the other is given.
NULLABLE_ON_UPDATE = frozenset({"start_at", "end_at", "cron", "interval_seconds"})


# What a field that PATCH may leave out but not set to null is typed as: None in Python
# for "not given", and no null in the JSON Schema.
Absent = SkipJsonSchema[None]


class ScheduleUpdate(RequestBody):
    """Only the fields given change; `cron` and `interval_seconds` replace each other;
    `tool` and `inputs` change together, so that inputs are always checked against the
    tool they are for."""

    model_config = ConfigDict(
        json_schema_extra={
            "dependentRequired": {"tool": ["inputs"], "inputs": ["tool"]},
            "not": {
                "required": ["cron", "interval_seconds"],
                "properties": {"cron": {"type": "string"}, "interval_seconds": {"type": "integer"}},
            },
        }
    )

    name: Annotated[str, Field(min_length=1, max_length=200)] | Absent = None
    tool: Annotated[str, Field(min_length=1, max_length=100)] | Absent = None
    inputs: dict[str, object] | Absent = None
    priority: Priority | Absent = None
    labels: Labels | Absent = None
    cron: Cron | None = None
    timezone: TimeZone | Absent = None
    interval_seconds: IntervalSeconds | None = None
    start_at: UtcAwareDatetime | None = None
    end_at: UtcAwareDatetime | None = None
    enabled: JsonBool | Absent = None
    overlap: Overlap | Absent = None

    @model_validator(mode="after")
    def _at_most_one_timing(self) -> Self:
        if self.cron is not None and self.interval_seconds is not None:
            raise ValueError("give at most one of `cron` and `interval_seconds`")
        nulls = [
            name
            for name in sorted(self.model_fields_set - NULLABLE_ON_UPDATE)
            if getattr(self, name) is None
        ]
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null")
        if ("tool" in self.model_fields_set) != ("inputs" in self.model_fields_set):
            raise ValueError("give `tool` and `inputs` together")
        return self


class ScheduleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    owner_id: uuid.UUID
    name: str
    tool: str
    inputs: dict[str, object]
    priority: int
    labels: dict[str, str]
    cron: str | None
    timezone: str
    interval_seconds: int | None
    start_at: datetime | None
    end_at: datetime | None
    enabled: bool
    overlap: Overlap
    next_run_at: datetime | None
    last_run_at: datetime | None
    run_count: int
    last_skipped_at: datetime | None
    last_skip_reason: str | None
    created_at: datetime
    updated_at: datetime
