"""What the API answers, as plain typed objects (no validation library: the server
validated it already). `raw` keeps the whole answer, fields the server adds later too."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, cast

JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
TERMINAL_STATES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})

# How a tool's JSON Schema marks an input that takes an uploaded file's id
# (app/tools/files.py on the server: a UUID with this description).
FILE_INPUT_DESCRIPTION = "The id of a file uploaded with POST /api/v1/files."


@dataclass(frozen=True)
class Tool:
    """A tool the server runs, with the JSON Schema of its inputs and outputs."""

    name: str
    version: str
    title: str
    description: str
    queue: str
    time_limit_seconds: int | None
    max_attempts: int
    inputs_schema: dict[str, Any]
    outputs_schema: dict[str, Any]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Tool":
        return cls(
            name=data["name"],
            version=data["version"],
            title=data["title"],
            description=data.get("description", ""),
            queue=data.get("queue", "default"),
            time_limit_seconds=data.get("time_limit_seconds"),
            max_attempts=data.get("max_attempts", 1),
            inputs_schema=data.get("inputs_schema", {}),
            outputs_schema=data.get("outputs_schema", {}),
            raw=data,
        )

    @property
    def file_inputs(self) -> list[str]:
        """The names of the inputs that take an uploaded file (or a list of them)."""
        return [
            name
            for name, schema in self.inputs_schema.get("properties", {}).items()
            if _takes_file(schema, self.inputs_schema.get("$defs", {}))
        ]

    def input_type(self, name: str) -> str | None:
        """The JSON type of one input (`string`, `integer`, ...), when it has one."""
        schema = self.inputs_schema.get("properties", {}).get(name, {})
        types = {
            option.get("type")
            for option in [schema, *schema.get("anyOf", [])]
            if isinstance(option, dict) and option.get("type") not in (None, "null")
        }
        return types.pop() if len(types) == 1 else None


def _takes_file(schema: dict[str, Any], definitions: dict[str, Any]) -> bool:
    if schema.get("description") == FILE_INPUT_DESCRIPTION:
        return True
    options = [*schema.get("anyOf", []), *schema.get("oneOf", [])]
    if "items" in schema:
        options.append(schema["items"])
    if "$ref" in schema:
        options.append(definitions.get(schema["$ref"].rsplit("/", 1)[-1], {}))
    return any(isinstance(option, dict) and _takes_file(option, definitions) for option in options)


@dataclass(frozen=True)
class UploadedFile:
    """A file uploaded with `Client.upload`; pass its `id` as a file input."""

    id: str
    name: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "UploadedFile":
        return cls(
            id=data["id"],
            name=data["name"],
            content_type=data["content_type"],
            size=data["size"],
            sha256=data["sha256"],
            created_at=datetime.fromisoformat(data["created_at"]),
        )


@dataclass(frozen=True)
class Artifact:
    """An output file of a job; `Job.download(artifact.name, dest)` fetches it."""

    name: str
    content_type: str
    size: int
    sha256: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Artifact":
        return cls(
            name=data["name"],
            content_type=data["content_type"],
            size=data["size"],
            sha256=data["sha256"],
        )


def as_state(value: object) -> JobState:
    return cast(JobState, value)
