"""Finds the tools: Tool subclasses defined in the modules of `app.tools.builtin` and
`app.tools.mockups`, and in installed packages through the entry-point group
`tooljobs.tools` (an entry point names a module or a Tool class).

Every candidate is checked (app.tools.checks) before it is used. A broken one, or a
module that does not import, is left out (and logged as an error once by the API and
by each worker); the others load whatever it did, so one bad tool never stops the API
or a worker. A class is no
candidate when its name starts with `_`, or when it is abstract and has no `name`: a
base for other tools.

With MOCKUP_TESTS set, a tool that has a mockup twin (`is_mockup = True`, same name,
same models) is replaced by the twin.
"""

import importlib
import importlib.util
import inspect
import logging
import pkgutil
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import ModuleType

from app.tools import builtin, mockups
from app.tools.base import AnyTool, Tool
from app.tools.checks import problems

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "tooljobs.tools"


class UnknownToolError(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown tool {name!r}")
        self.name = name


@dataclass(frozen=True)
class BrokenTool:
    """A tool left out: where it is (file:line), which it is, and what to change."""

    where: str
    label: str
    error: str
    name: str | None = None

    def __str__(self) -> str:
        return f"{self.where}: {self.label}: {self.error}"


@dataclass(frozen=True)
class ToolCatalog:
    """The tools of this process: those that run (by name), their twins, the broken."""

    tools: dict[str, AnyTool]
    mockups: dict[str, AnyTool]
    broken: list[BrokenTool] = field(default_factory=list)


@cache
def catalog() -> ToolCatalog:
    from app.core.config import settings  # only here: a tool's own tests need no settings

    return load_tools(mockup_tests=settings.MOCKUP_TESTS)


def log_broken_tools() -> None:
    """Called once by each process that serves tools (the API, a worker) as it starts;
    the others that load them (beat, prestart's commands) stay quiet about them."""
    for broken in catalog().broken:
        logger.error("tool left out: %s", broken)


def tools_by_name() -> dict[str, AnyTool]:
    return catalog().tools


def get_tool(name: str) -> AnyTool:
    try:
        return tools_by_name()[name]
    except KeyError:
        raise UnknownToolError(name) from None


def load_tools(*, mockup_tests: bool) -> ToolCatalog:
    """Every tool found and checked."""
    broken: list[BrokenTool] = []
    by_name: dict[tuple[bool, str], list[AnyTool]] = defaultdict(list)
    for candidate in _candidates(broken):
        try:
            found = problems(candidate)
        except Exception as error:  # a check that trips over something unforeseen
            found = [f"could not be checked ({type(error).__name__}: {error})"]
        if found:
            broken.append(_broken(candidate, "; ".join(found)))
        else:
            by_name[candidate.is_mockup, candidate.name].append(candidate)
    real: dict[str, AnyTool] = {}
    twins: dict[str, AnyTool] = {}
    for (is_mockup, name), same_name in by_name.items():
        if len(same_name) > 1:
            # Which one a job meant cannot be told, and processes could choose apart.
            broken += _clashes(same_name)
        else:
            (twins if is_mockup else real)[name] = same_name[0]
    for name, twin in list(twins.items()):
        mismatch = _twin_mismatch(twin, real.get(name))
        if mismatch is not None:
            broken.append(_broken(twin, mismatch))
            del twins[name]
    tools = {**real, **twins} if mockup_tests else real
    return ToolCatalog(
        tools=dict(sorted(tools.items())),
        mockups=dict(sorted(twins.items())),
        broken=sorted(broken, key=_in_file_order),
    )


def _twin_mismatch(twin: AnyTool, original: AnyTool | None) -> str | None:
    if original is None:
        return f"it is the mockup of {twin.name!r}, and no working tool has that name"
    if (twin.inputs_model, twin.outputs_model) != (original.inputs_model, original.outputs_model):
        return f"its models differ from those of its tool {_where(original)}; use the same"
    return None


def _in_file_order(broken: BrokenTool) -> tuple[str, int]:
    file, _, line = broken.where.rpartition(":")
    return (file, int(line)) if line.isdigit() else (broken.where, 0)


def _clashes(same_name: list[AnyTool]) -> Iterator[BrokenTool]:
    for tool in same_name:
        others = ", ".join(_where(other) for other in same_name if other is not tool)
        yield _broken(tool, f"another tool is also named {tool.name!r} ({others}); rename one")


def _candidates(broken: list[BrokenTool]) -> Iterator[AnyTool]:
    """Each candidate tool class once; a module or entry point that fails goes to `broken`."""
    seen: set[AnyTool] = set()
    for package in (builtin, mockups):
        for module in _modules_under(package, broken):
            yield from _new(_tools_defined_in(module), seen)
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = entry_point.load()
        except Exception as error:
            broken.append(
                _entry_point_broken(entry_point, _import_failure(error, entry_point.module))
            )
            continue
        if isinstance(loaded, ModuleType):
            yield from _new(_tools_defined_in(loaded), seen)
        elif inspect.isclass(loaded) and issubclass(loaded, Tool):
            yield from _new([loaded], seen)
        else:
            broken.append(
                _entry_point_broken(entry_point, "name a module or a Tool class in its value")
            )


def _new(tools: Iterator[AnyTool] | list[AnyTool], seen: set[AnyTool]) -> Iterator[AnyTool]:
    for tool in tools:
        if tool not in seen:
            seen.add(tool)
            yield tool


def _modules_under(package: ModuleType, broken: list[BrokenTool]) -> Iterator[ModuleType]:
    for module_info in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
        try:
            module = importlib.import_module(module_info.name)
        except Exception as error:
            where = _relative(_module_file(module_info.name) or module_info.name)
            broken.append(
                BrokenTool(where, module_info.name, _import_failure(error, module_info.name))
            )
            continue
        yield module
        if module_info.ispkg:
            yield from _modules_under(module, broken)


def _tools_defined_in(module: ModuleType) -> Iterator[AnyTool]:
    for _, candidate in inspect.getmembers(module, inspect.isclass):
        if (
            issubclass(candidate, Tool)
            and candidate.__module__ == module.__name__  # defined here, not imported
            and not candidate.__name__.startswith("_")
            and not (inspect.isabstract(candidate) and not hasattr(candidate, "name"))
        ):
            yield candidate


def _import_failure(error: Exception, module: str) -> str:
    return (
        f"cannot be imported ({type(error).__name__}: {error}); fix the module "
        f"(`python -c 'import {module}'` shows the traceback)"
    )


def _entry_point_broken(entry_point: EntryPoint, error: str) -> BrokenTool:
    file = _module_file(entry_point.module)
    where = _relative(file) if file else f"entry point {entry_point.name} = {entry_point.value}"
    return BrokenTool(where, f"entry point {entry_point.name!r} of {ENTRY_POINT_GROUP}", error)


def _module_file(module_name: str) -> str | None:
    try:
        spec = importlib.util.find_spec(module_name)
    except Exception:  # its parent package does not import either
        return None
    return spec.origin if spec is not None and spec.has_location else None


def _broken(tool: AnyTool, error: str) -> BrokenTool:
    name = getattr(tool, "name", None)
    name = name if isinstance(name, str) else None
    label = tool.__qualname__ if name is None else f"{tool.__qualname__} ({name!r})"
    return BrokenTool(source_of(tool), label, error, name)


def source_of(tool: AnyTool) -> str:
    """Where the class is defined: file:line, the file relative to the working directory."""
    try:
        file = inspect.getsourcefile(tool)
        line = inspect.getsourcelines(tool)[1]
    except (OSError, TypeError):
        return tool.__module__
    return f"{_relative(file or tool.__module__)}:{line}"


def _relative(file: str) -> str:
    """The path from the working directory when the file is below it, else as it is."""
    path = Path(file)
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return file


def _where(tool: AnyTool) -> str:
    return f"{tool.__module__}.{tool.__qualname__}"
