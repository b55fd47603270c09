"""Finds the tools: every Tool subclass defined in a module of `app.tools.builtin`."""

import importlib
import inspect
import pkgutil
from functools import cache

from app.tools import builtin
from app.tools.base import Tool

AnyTool = type[Tool]  # type: ignore[type-arg]


class UnknownToolError(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown tool {name!r}")
        self.name = name


class DuplicateToolError(RuntimeError):
    pass


@cache
def tools_by_name() -> dict[str, AnyTool]:
    found: dict[str, AnyTool] = {}
    for module_info in pkgutil.iter_modules(builtin.__path__, f"{builtin.__name__}."):
        module = importlib.import_module(module_info.name)
        for _, candidate in inspect.getmembers(module, inspect.isclass):
            if not issubclass(candidate, Tool) or inspect.isabstract(candidate):
                continue
            if candidate.__module__ != module.__name__:
                continue  # imported, not defined, here
            existing = found.get(candidate.name)
            if existing is not None and existing is not candidate:
                raise DuplicateToolError(
                    f"two tools are named {candidate.name!r}: "
                    f"{existing.__module__}.{existing.__qualname__} and "
                    f"{candidate.__module__}.{candidate.__qualname__}"
                )
            found[candidate.name] = candidate
    return dict(sorted(found.items()))


def get_tool(name: str) -> AnyTool:
    try:
        return tools_by_name()[name]
    except KeyError:
        raise UnknownToolError(name) from None


def queues() -> set[str]:
    return {"default"} | {tool.queue for tool in tools_by_name().values()}
