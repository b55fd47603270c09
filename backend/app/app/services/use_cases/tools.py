"""Use-cases of tools: describe what can be run, and what was left out as broken."""

from typing import Any

from app.schemas.tool import BrokenToolRead, ToolRead
from app.services.errors import NotFound
from app.tools.base import AnyTool
from app.tools.inputs import strict_inputs_type
from app.tools.registry import UnknownToolError, catalog, get_tool, tools_by_name


def describe(tool: AnyTool) -> ToolRead:
    return ToolRead(
        name=tool.name,
        version=tool.version,
        title=tool.title,
        description=tool.description,
        queue=tool.queue,
        time_limit_seconds=tool.time_limit_seconds,
        max_attempts=tool.max_attempts,
        inputs_schema=tool.inputs_model.model_json_schema(),
        outputs_schema=tool.outputs_model.model_json_schema(),
    )


def list_tools() -> list[ToolRead]:
    return [describe(tool) for tool in tools_by_name().values()]


def broken_tools() -> list[BrokenToolRead]:
    return [
        BrokenToolRead(name=broken.name, where=broken.where, label=broken.label, error=broken.error)
        for broken in catalog().broken
    ]


def describe_tool(name: str) -> ToolRead:
    try:
        return describe(get_tool(name))
    except UnknownToolError:
        raise NotFound(f"unknown tool {name!r}") from None


def inputs_types() -> list[tuple[ToolRead, Any]]:
    """Each tool with the type of its inputs in a request body (its inputs model, refusing
    unknown keys), for routes whose body is typed by the tool."""
    return [
        (describe(tool), strict_inputs_type(tool.inputs_model)) for tool in tools_by_name().values()
    ]
