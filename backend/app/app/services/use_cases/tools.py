"""Use-cases of tools: describe what can be run."""

from pydantic import BaseModel

from app.schemas.tool import ToolRead
from app.services.errors import NotFound
from app.tools.registry import AnyTool, UnknownToolError, get_tool, tools_by_name


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


def describe_tool(name: str) -> ToolRead:
    try:
        return describe(get_tool(name))
    except UnknownToolError:
        raise NotFound(f"unknown tool {name!r}") from None


def inputs_models() -> list[tuple[ToolRead, type[BaseModel]]]:
    """Each tool with its inputs model, for routes whose body is typed by the tool."""
    return [(describe(tool), tool.inputs_model) for tool in tools_by_name().values()]
