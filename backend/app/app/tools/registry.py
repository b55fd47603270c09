"""Finds the tools: Tool subclasses defined in the modules of `app.tools.builtin` and
`app.tools.mockups`, and in installed packages through the entry-point group
`tooljobs.tools` (an entry point names a module or a Tool class).

With MOCKUP_TESTS set, a tool that has a mockup twin (`is_mockup = True`, same name,
same models) is replaced by the twin.
"""

import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from functools import cache
from importlib.metadata import entry_points
from types import ModuleType

from app.core.config import settings
from app.tools import builtin, mockups
from app.tools.base import Tool

AnyTool = type[Tool]  # type: ignore[type-arg]

ENTRY_POINT_GROUP = "tooljobs.tools"


class UnknownToolError(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown tool {name!r}")
        self.name = name


class ToolRegistryError(RuntimeError):
    """Two tools with one name, or a mockup that does not match its tool."""


@cache
def tools_by_name() -> dict[str, AnyTool]:
    real: dict[str, AnyTool] = {}
    twins: dict[str, AnyTool] = {}
    for tool in _discovered_tools():
        found = twins if tool.is_mockup else real
        existing = found.get(tool.name)
        if existing is not None and existing is not tool:
            raise ToolRegistryError(
                f"two {'mockups' if tool.is_mockup else 'tools'} are named {tool.name!r}: "
                f"{_where(existing)} and {_where(tool)}"
            )
        found[tool.name] = tool
    for name, twin in twins.items():
        original = real.get(name)
        if original is None:
            raise ToolRegistryError(f"mockup {_where(twin)} has no tool named {name!r}")
        if (twin.inputs_model, twin.outputs_model) != (
            original.inputs_model,
            original.outputs_model,
        ):
            raise ToolRegistryError(
                f"mockup {_where(twin)} has other models than {_where(original)}"
            )
    if settings.MOCKUP_TESTS:
        real.update(twins)
    return dict(sorted(real.items()))


def get_tool(name: str) -> AnyTool:
    try:
        return tools_by_name()[name]
    except KeyError:
        raise UnknownToolError(name) from None


def _discovered_tools() -> Iterator[AnyTool]:
    for package in (builtin, mockups):
        for module_info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            yield from _tools_defined_in(importlib.import_module(module_info.name))
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        loaded = entry_point.load()
        if isinstance(loaded, ModuleType):
            yield from _tools_defined_in(loaded)
        elif inspect.isclass(loaded) and issubclass(loaded, Tool):
            yield loaded
        else:
            raise ToolRegistryError(
                f"entry point {entry_point.name!r} of {ENTRY_POINT_GROUP} is neither "
                "a module nor a Tool class"
            )


def _tools_defined_in(module: ModuleType) -> Iterator[AnyTool]:
    for _, candidate in inspect.getmembers(module, inspect.isclass):
        if (
            issubclass(candidate, Tool)
            and not inspect.isabstract(candidate)
            and hasattr(candidate, "name")  # not a base class for other tools
            and candidate.__module__ == module.__name__  # defined here, not imported
        ):
            yield candidate


def _where(tool: AnyTool) -> str:
    return f"{tool.__module__}.{tool.__qualname__}"
