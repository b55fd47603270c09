"""`CommandLineTool`: a program run from validated inputs, declared in a few lines.

    class LineCount(CommandLineTool[FileInputs, LineCountOutputs]):
        name = "line-count"
        version = "1.0.0"
        title = "Count lines"
        argv = ("wc", "--lines")
        stdin = "file"
        stdout = Stdout("lines")

`argv` is built as app.tools.argv says, `stdin` names a FileRef input the program
reads, `stdout` says which output (or artifact) its stdout becomes; files matching
`artifact_globs` in the working folder become artifacts. Override `command` to build
argv yourself, and `outputs` for outputs that are more than the stdout.
"""

import os
import tempfile
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, ClassVar, Generic, cast

from pydantic import BaseModel, ValidationError

from app.tools.argv import ArgvItem, Flag, Option, build_argv
from app.tools.base import InputsT, OutputsT, Tool, ToolError
from app.tools.context import JobContext
from app.tools.files import FileId
from app.tools.program import CompletedProgram, run_program

__all__ = ["CommandLineTool", "CompletedProgram", "Flag", "Option", "Stdout"]

MAX_STDOUT_OUTPUT_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Stdout:
    """What the program's stdout becomes, instead of lines of the job log.

    `Stdout("text")`: the output `text`, as the shell's `$(...)` reads it (UTF-8, without
    its trailing newlines), converted to the field's type (`"3"` for an int is 3).
    `parse` reads it first: `Stdout("report", parse=json.loads)`.
    `Stdout(artifact="sorted.txt")`: the artifact `sorted.txt`, byte for byte; its name
    is a template like argv's (`"{file.name}.gz"`). With an output too,
    `Stdout("sorted", artifact="sorted.txt")`, that output is the artifact's name.
    """

    output: str | None = None
    parse: Callable[[str], object] | None = None
    artifact: str | None = None

    def __post_init__(self) -> None:
        if self.output is None and self.artifact is None:
            raise ValueError("Stdout needs an output, an artifact, or both")
        if self.parse is not None and self.artifact is not None:
            raise ValueError("Stdout keeps an artifact byte for byte: it takes no parse")


class CommandLineTool(Tool[InputsT, OutputsT], Generic[InputsT, OutputsT]):
    argv: ClassVar[Sequence[ArgvItem]]
    stdin: ClassVar[str | None] = None
    stdout: ClassVar[Stdout | None] = None
    artifact_globs: ClassVar[Sequence[str]] = ()
    # The only variables of the worker's environment the program sees.
    environment_allowlist: ClassVar[Sequence[str]] = ("PATH", "LANG", "LC_ALL", "TZ", "HOME")

    def command(self, inputs: InputsT, ctx: JobContext) -> list[str]:
        """The program's argv, from `argv` and the inputs."""
        return build_argv(self.argv, _template_values(inputs, ctx))

    def outputs(self, inputs: InputsT, ctx: JobContext, program: CompletedProgram) -> OutputsT:
        """The tool's outputs once the program exited 0: by default, what `stdout` gives."""
        values: dict[str, object] = {}
        if self.stdout is not None and self.stdout.output is not None:
            if self.stdout.artifact is None:
                values[self.stdout.output] = _parsed(self.stdout, program)
            else:
                values[self.stdout.output] = _artifact_name(self.stdout.artifact, inputs, ctx)
        try:
            return cast(OutputsT, self.outputs_model.model_validate(values))
        except ValidationError as error:
            raise ToolError(
                f"{_program_name(program)} gave outputs that do not fit "
                f"{self.outputs_model.__name__}: {_problems(error)}"
            ) from None

    def run(self, inputs: InputsT, ctx: JobContext) -> OutputsT:
        argv = self.command(inputs, ctx)
        environment = {k: os.environ[k] for k in self.environment_allowlist if k in os.environ}
        with ExitStack() as files:
            stdin = None
            stdin_file = None if self.stdin is None else getattr(inputs, self.stdin)
            if stdin_file is not None:
                stdin = files.enter_context(ctx.input_file(stdin_file).path.open("rb"))
            stdout = None
            if self.stdout is not None:
                # Outside the working folder, where no glob of the tool's collects it.
                folder = files.enter_context(tempfile.TemporaryDirectory(prefix="tooljobs-"))
                stdout = files.enter_context((Path(folder) / "stdout").open("w+b"))
            program = run_program(
                argv,
                ctx,
                environment=environment,
                time_limit_seconds=self.time_limit_seconds,
                stdin=stdin,
                stdout=stdout,
            )
            if self.stdout is not None and stdout is not None:
                if self.stdout.artifact is None:
                    program = program.model_copy(update={"stdout": _text(stdout, program)})
                else:
                    name = _artifact_name(self.stdout.artifact, inputs, ctx)
                    ctx.add_artifact(Path(stdout.name), name)
        self._collect_artifacts(ctx)
        return self.outputs(inputs, ctx, program)

    def _collect_artifacts(self, ctx: JobContext) -> None:
        workdir = ctx.workdir.resolve()
        for pattern in self.artifact_globs:
            for path in sorted(ctx.workdir.glob(pattern)):
                # The program may have left links, to files or to folders, that lead out
                # of its folder: only its own files are collected.
                if path.is_symlink() or not path.resolve().is_relative_to(workdir):
                    ctx.log(f"[tooljobs] not collected, it leads out of the job folder: {path}")
                elif path.is_file():
                    ctx.add_artifact(path)


def _text(stream: IO[bytes], program: CompletedProgram) -> str:
    """What the program wrote, as `$(...)` reads it: UTF-8, without trailing newlines."""
    stream.seek(0)
    raw = stream.read(MAX_STDOUT_OUTPUT_BYTES + 1)
    if len(raw) > MAX_STDOUT_OUTPUT_BYTES:
        raise ToolError(
            f"{_program_name(program)} wrote more than {MAX_STDOUT_OUTPUT_BYTES} bytes to "
            "stdout: keep it as an artifact, Stdout(artifact=...)"
        )
    try:
        return raw.decode().rstrip("\n")
    except UnicodeDecodeError as error:
        raise ToolError(
            f"{_program_name(program)}'s stdout is not UTF-8 text ({error}): "
            "keep it as an artifact, Stdout(artifact=...)"
        ) from None


def _parsed(declared: Stdout, program: CompletedProgram) -> object:
    text = program.stdout or ""
    if declared.parse is None:
        return text
    try:
        return declared.parse(text)
    except Exception as error:
        raise ToolError(
            f"cannot read {_program_name(program)}'s stdout {text[:200]!r}: {error}"
        ) from None


def _problems(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(map(str, problem['loc']))}: "
        + (
            "nothing gives it (name it in `stdout`, or override `outputs`)"
            if problem["type"] == "missing"
            else f"{problem['msg']}, not {problem['input']!r}"
        )
        for problem in error.errors(include_url=False)
    )


def _artifact_name(template: str, inputs: BaseModel, ctx: JobContext) -> str:
    return template.format_map(_template_values(inputs, ctx))


def _template_values(inputs: BaseModel, ctx: JobContext) -> dict[str, object]:
    return {name: _local(getattr(inputs, name), ctx) for name in type(inputs).model_fields}


def _local(value: object, ctx: JobContext) -> object:
    if isinstance(value, FileId):
        return ctx.input_file(value)
    if isinstance(value, list):
        return [_local(item, ctx) for item in value]
    return value


def _program_name(program: CompletedProgram) -> str:
    return Path(program.argv[0]).name
