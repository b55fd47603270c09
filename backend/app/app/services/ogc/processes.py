"""Tools as processes: summaries and descriptions with the standard's input and output
shapes, translated from the tools' JSON Schemas."""

from app.core.config import settings
from app.schemas.ogc import (
    OGC_REL,
    InputDescription,
    JobControl,
    Link,
    OutputDescription,
    ProcessDescription,
    ProcessList,
    ProcessSummary,
    Transmission,
)
from app.services.ogc.errors import NoSuchProcess
from app.tools.base import AnyTool
from app.tools.files import file_fields
from app.tools.registry import UnknownToolError, get_tool, tools_by_name

# How the standard spells an input whose value is a file's bytes.
BINARY_SCHEMA: dict[str, object] = {
    "type": "string",
    "contentEncoding": "binary",
    "contentMediaType": "application/octet-stream",
}


def process_tool(process_id: str) -> AnyTool:
    try:
        return get_tool(process_id)
    except UnknownToolError:
        raise NoSuchProcess(f"no process {process_id!r}") from None


def list_processes(base: str, *, limit: int) -> ProcessList:
    tools = list(tools_by_name().values())[:limit]
    return ProcessList(
        processes=[process_summary(tool, base) for tool in tools],
        links=[Link(href=f"{base}/processes", rel="self", type="application/json")],
    )


def describe_process(process_id: str, base: str) -> ProcessDescription:
    tool = process_tool(process_id)
    inputs_schema = tool.inputs_model.model_json_schema()
    outputs_schema = tool.outputs_model.model_json_schema()
    files = file_fields(tool.inputs_model)
    required = set(_list(inputs_schema.get("required")))
    return ProcessDescription(
        **process_summary(tool, base).model_dump(),
        inputs={
            name: InputDescription(
                title=str(schema.get("title", name)),
                description=_description(schema),
                schema_=_file_schema(schema) if name in files else schema,
                minOccurs=1 if name in required else 0,
            )
            for name, schema in _properties(inputs_schema).items()
        },
        outputs={
            name: OutputDescription(
                title=str(schema.get("title", name)),
                description=_description(schema),
                schema_=schema,
            )
            for name, schema in _properties(outputs_schema).items()
        },
    )


def process_summary(tool: AnyTool, base: str) -> ProcessSummary:
    controls = [JobControl.async_execute]
    if settings.OGC_SYNC_WAIT_SECONDS:
        controls.append(JobControl.sync_execute)
    href = f"{base}/processes/{tool.name}"
    return ProcessSummary(
        id=tool.name,
        version=tool.version,
        title=tool.title,
        description=tool.description,
        jobControlOptions=controls,
        outputTransmission=[Transmission.value, Transmission.reference],
        links=[
            Link(href=href, rel="self", type="application/json", title="The description"),
            Link(href=f"{href}/execution", rel=f"{OGC_REL}/execute", title="Execute it"),
        ],
    )


def _properties(schema: dict[str, object]) -> dict[str, dict[str, object]]:
    """Each property's schema with the `$ref`s into the model's `$defs` written out."""
    definitions = _as_dict(schema.get("$defs"))
    properties = _as_dict(schema.get("properties"))
    return {name: _as_dict(_inline(value, definitions, 0)) for name, value in properties.items()}


def _inline(value: object, definitions: dict[str, object], depth: int) -> object:
    # A model that contains itself is written out a few levels deep, then left open.
    if depth > 8:
        return {}
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            target = definitions.get(ref.removeprefix("#/$defs/"), {})
            rest = {key: item for key, item in value.items() if key != "$ref"}
            return _inline({**_as_dict(target), **rest}, definitions, depth + 1)
        return {key: _inline(item, definitions, depth) for key, item in value.items()}
    if isinstance(value, list):
        return [_inline(item, definitions, depth) for item in value]
    return value


def _file_schema(schema: dict[str, object]) -> dict[str, object]:
    """A file input as the standard's binary value; a list of files as an array of them."""
    if schema.get("type") == "array":
        return {**schema, "items": BINARY_SCHEMA}
    return dict(BINARY_SCHEMA)


def _description(schema: dict[str, object]) -> str | None:
    description = schema.get("description")
    return description if isinstance(description, str) else None


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _as_dict(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}
