"""What makes a Tool class unfit to run, found when tools are loaded, before any job:
each problem is said with what to change."""

import difflib
import inspect
import re
from collections.abc import Iterator
from pathlib import PurePath
from typing import Any, TypeGuard, get_args, get_origin

from pydantic import BaseModel

from app.tools.argv import Flag, Option, template_inputs
from app.tools.base import AnyTool, Tool
from app.tools.command_line import CommandLineTool, Stdout

# A tool's name is a URL path segment, and with "-" made "_" part of an OpenAPI operation id
# and of a model's name: so no "_" of its own, which would let two names collide there.
TOOL_NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
TOOL_NAME_MAX_LENGTH = 64
QUEUE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def problems(tool: AnyTool) -> list[str]:
    """Everything wrong with the tool class, each with its fix; empty when it can run."""
    model_problems = list(_models(tool))
    found = [*_identity(tool), *model_problems, *_run_settings(tool)]
    found += [
        f"implement {name}({', '.join(inspect.signature(getattr(tool, name)).parameters)})"
        for name in sorted(tool.__abstractmethods__)
    ]
    if issubclass(tool, CommandLineTool) and not model_problems:
        found += _command_line(tool)
    return found


def _suggested_name(tool: AnyTool) -> str:
    """The class name as a tool name: WordCount -> word-count."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", tool.__name__).lower()


def _identity(tool: AnyTool) -> Iterator[str]:
    name = getattr(tool, "name", None)
    if name is None:
        yield f'give it a name: name = "{_suggested_name(tool)}"{_typo_of(tool, "name")}'
    elif not (
        isinstance(name, str) and TOOL_NAME.fullmatch(name) and len(name) <= TOOL_NAME_MAX_LENGTH
    ):
        yield (
            f"name {name!r} is not a tool name: use lowercase letters, digits and '-', "
            f'from a letter, like name = "{_suggested_name(tool)}"'
        )
    for attribute, example in (("version", '"1.0.0"'), ("title", '"What it does"')):
        value = getattr(tool, attribute, None)
        if not (isinstance(value, str) and value.strip()):
            yield f"give it a {attribute}: {attribute} = {example}{_typo_of(tool, attribute)}"
    if not isinstance(tool.description, str):
        yield "description must be a string"


def _typo_of(tool: AnyTool, attribute: str) -> str:
    """A hint when the class has an attribute spelled nearly like the missing one."""
    own = [key for key in vars(tool) if not key.startswith("__")]
    close = difflib.get_close_matches(attribute, own, n=1, cutoff=0.6)
    return f" (is `{close[0]}` a typo of `{attribute}`?)" if close else ""


def _models(tool: AnyTool) -> Iterator[str]:
    inputs, outputs = (getattr(tool, role, None) for role in ("inputs_model", "outputs_model"))
    if not (_is_model(inputs) and _is_model(outputs)):
        yield _how_to_declare_models(tool)
        return
    for role, model in (("inputs", inputs), ("outputs", outputs)):
        try:
            model.model_json_schema()
        except Exception as error:
            yield (
                f"its {role} model {model.__name__} has no JSON Schema ({error}); "
                "use field types that JSON can carry"
            )
    for path in _path_fields(inputs):
        where = ".".join(path)
        yield (
            f"input `{where}` is a file path, which a client cannot send: declare it "
            f"`{path[-1]}: FileRef` (from app.tools.files) and read the file at "
            f"ctx.input_file(inputs.{where}).path"
        )


def _is_model(value: object) -> TypeGuard[type[BaseModel]]:
    return inspect.isclass(value) and issubclass(value, BaseModel)


def _how_to_declare_models(tool: AnyTool) -> str:
    base = next(
        (
            base
            for klass in tool.__mro__
            for base in getattr(klass, "__orig_bases__", ())
            if inspect.isclass(get_origin(base)) and issubclass(get_origin(base), Tool)
        ),
        None,
    )
    base_name = getattr(get_origin(base), "__name__", "Tool")
    fix = (
        f"declare its models, pydantic BaseModel classes, as "
        f"class {tool.__name__}({base_name}[{tool.__name__}Inputs, {tool.__name__}Outputs])"
    )
    given = [_type_name(arg) for arg in get_args(base)]
    return f"{fix}; it has {base_name}[{', '.join(given)}]" if given else fix


def _type_name(value: object) -> str:
    return getattr(value, "__name__", repr(value))


def _path_fields(
    model: type[BaseModel], seen: frozenset[type] = frozenset()
) -> Iterator[tuple[str, ...]]:
    """Each field of the model, or of a model inside it, that holds a pathlib path."""
    for name, field in model.model_fields.items():
        for kind in _types_in(field.annotation):
            if issubclass(kind, PurePath):
                yield (name,)
                break
            if issubclass(kind, BaseModel) and kind not in seen:
                yield from ((name, *inner) for inner in _path_fields(kind, seen | {model}))


def _types_in(annotation: Any) -> Iterator[type]:
    """The classes an annotation is made of: `list[Path] | None` gives list, Path and NoneType."""
    origin = get_origin(annotation)
    if inspect.isclass(annotation):
        yield annotation
    elif inspect.isclass(origin):
        yield origin
    for arg in get_args(annotation):
        yield from _types_in(arg)


def _run_settings(tool: AnyTool) -> Iterator[str]:
    if not (isinstance(tool.queue, str) and QUEUE_NAME.fullmatch(tool.queue)):
        yield f"queue {tool.queue!r} is not a queue name: use letters, digits, '.', '_' or '-'"
    limit = tool.time_limit_seconds
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0):
        yield f"time_limit_seconds {limit!r} must be a whole number of seconds above 0, or None"
    attempts = tool.max_attempts
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        yield f"max_attempts {attempts!r} must be a whole number, 1 or more"
    transient = tool.transient_errors
    if not (
        isinstance(transient, tuple)
        and all(inspect.isclass(kind) and issubclass(kind, Exception) for kind in transient)
    ):
        yield "transient_errors must be a tuple of exception classes, like (ConnectionError,)"


def _command_line(tool: type[CommandLineTool]) -> Iterator[str]:  # type: ignore[type-arg]
    inputs = list(tool.inputs_model.model_fields)
    has = f"(it has: {', '.join(inputs) or 'none'})"
    # A tool that builds its argv itself may use values of its own, or no `argv` at all.
    builds_argv = tool.command is not CommandLineTool.command
    argv = getattr(tool, "argv", None)
    if argv is None and builds_argv:
        argv = ()
    if isinstance(argv, str) or not isinstance(argv, list | tuple) or not (argv or builds_argv):
        yield (
            'declare argv with one item per argument, like argv = ("sort", "--", "{file}"); '
            f"it is {argv!r}"
        )
        return
    for item in argv:
        if isinstance(item, Flag | Option):
            if item.input not in inputs:
                flag = item.flag if isinstance(item, Flag) else item.option
                yield (
                    f"argv item {item!r} uses the input `{item.input}`, which "
                    f"{tool.inputs_model.__name__} does not have {has}; name the input: "
                    f'{type(item).__name__}("{flag}", "<input>")'
                )
        elif not isinstance(item, str):
            yield f"argv item {item!r} is neither a template string, a Flag nor an Option"
        elif not builds_argv:
            yield from _template_problems(f"argv item {item!r}", item, tool, has)
    if tool.stdin is not None and tool.stdin not in inputs:
        yield f"stdin = {tool.stdin!r} names no input of {tool.inputs_model.__name__} {has}"
    yield from _output_problems(tool, has)


def _output_problems(tool: type[CommandLineTool], has: str) -> Iterator[str]:  # type: ignore[type-arg]
    declared, outputs = tool.stdout, tool.outputs_model
    given: set[str] = set()
    if declared is not None and not isinstance(declared, Stdout):
        yield f'stdout must be a Stdout, like stdout = Stdout("text"); it is {declared!r}'
    elif declared is not None:
        if declared.artifact is not None:
            yield from _template_problems("Stdout's artifact", declared.artifact, tool, has)
        if declared.output is not None:
            given.add(declared.output)
            if declared.output not in outputs.model_fields:
                fields = ", ".join(outputs.model_fields) or "none"
                yield (
                    f"Stdout({declared.output!r}) names no output of {outputs.__name__} "
                    f"(it has: {fields})"
                )
    if tool.outputs is CommandLineTool.outputs:
        missing = [
            name
            for name, field in outputs.model_fields.items()
            if field.is_required() and name not in given
        ]
        if missing:
            yield (
                f"nothing gives its output {', '.join(missing)}: name it in stdout, like "
                f'stdout = Stdout("{missing[0]}"), or implement outputs(self, inputs, ctx, program)'
            )


def _template_problems(what: str, template: str, tool: AnyTool, has: str) -> Iterator[str]:
    try:
        names = template_inputs(template)
    except ValueError as error:
        yield f"{what} is not a template ({error}); write a literal brace as {{{{ or }}}}"
        return
    for name in names:
        if name not in tool.inputs_model.model_fields:
            yield (
                f"{what} names {{{name}}}, which is not an input of "
                f"{tool.inputs_model.__name__} {has}; use one of those"
            )
