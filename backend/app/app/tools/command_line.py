"""`CommandLineTool`: a program run from validated inputs, never through a shell."""

import os
import signal
import subprocess
import threading
import time
from abc import abstractmethod
from collections import deque
from collections.abc import Mapping, Sequence
from contextlib import suppress
from pathlib import Path
from typing import IO, Any, ClassVar, Generic

from pydantic import BaseModel

from app.tools.base import InputsT, OutputsT, Tool, ToolError, ToolTimeout
from app.tools.context import JobCancelled, JobContext
from app.tools.files import FileId

STDERR_TAIL_LINES = 20
# How often a running program is checked for cancellation.
POLL_SECONDS = 0.2


class CompletedProgram(BaseModel):
    argv: list[str]
    returncode: int
    seconds: float


class CommandLineTool(Tool[InputsT, OutputsT], Generic[InputsT, OutputsT]):
    """Declare `argv` (a template per argument) and implement `outputs`.

    Each `argv` item is formatted with the inputs' fields (`"-{level}"`, `"{file}"`), a
    FileRef field giving its local path; every item stays one argument whatever the
    value holds, because no shell ever parses it. Files matching `artifact_globs` in
    the working directory become the job's artifacts.
    """

    argv: ClassVar[Sequence[str]]
    # The only variables of the worker's environment the program sees.
    environment_allowlist: ClassVar[Sequence[str]] = ("PATH", "LANG", "LC_ALL", "TZ", "HOME")
    artifact_globs: ClassVar[Sequence[str]] = ()

    def template_values(self, inputs: InputsT, ctx: JobContext) -> dict[str, Any]:
        """The values `argv` is formatted with; override to add your own."""
        values: dict[str, Any] = {}
        for name in type(inputs).model_fields:
            value = getattr(inputs, name)
            values[name] = ctx.input_file(value).path if isinstance(value, FileId) else value
        return values

    @abstractmethod
    def outputs(self, inputs: InputsT, ctx: JobContext, program: CompletedProgram) -> OutputsT:
        """The tool's outputs once the program exited 0."""

    def run(self, inputs: InputsT, ctx: JobContext) -> OutputsT:
        values = self.template_values(inputs, ctx)
        argv = [item.format(**values) for item in self.argv]
        program = run_program(
            argv,
            ctx,
            environment={k: os.environ[k] for k in self.environment_allowlist if k in os.environ},
            time_limit_seconds=self.time_limit_seconds,
        )
        workdir = ctx.workdir.resolve()
        for pattern in self.artifact_globs:
            for path in sorted(ctx.workdir.glob(pattern)):
                # The program may have left links, to files or to folders, that lead out
                # of its folder: only its own files are collected.
                if path.is_symlink() or not path.resolve().is_relative_to(workdir):
                    ctx.log(f"[tooljobs] not collected, it leads out of the job folder: {path}")
                elif path.is_file():
                    ctx.add_artifact(path)
        return self.outputs(inputs, ctx, program)


def run_program(
    argv: list[str],
    ctx: JobContext,
    *,
    environment: Mapping[str, str],
    time_limit_seconds: float | None,
) -> CompletedProgram:
    """Run argv in the job's folder, its output into the job log; stop its whole group
    on time limit, cancellation or any error of ours."""
    started = time.monotonic()
    stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
    try:
        process = subprocess.Popen(
            argv,
            cwd=ctx.workdir,
            env=dict(environment),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            # Its own process group, so everything it starts is stopped with it.
            start_new_session=True,
        )
    except (OSError, ValueError) as error:
        # ValueError: a NUL in an argument, which no program's argv can hold.
        raise ToolError(f"cannot start {argv[0]!r}: {error}") from error
    assert process.stdout is not None
    assert process.stderr is not None
    readers = [
        threading.Thread(target=_forward, args=(process.stdout, ctx, "stdout", None)),
        threading.Thread(target=_forward, args=(process.stderr, ctx, "stderr", stderr_tail)),
    ]
    for reader in readers:
        reader.start()
    try:
        while process.poll() is None:
            if time_limit_seconds is not None and time.monotonic() - started > time_limit_seconds:
                raise ToolTimeout(f"{argv[0]} ran past its time limit of {time_limit_seconds}s")
            if ctx.cancelled():
                raise JobCancelled(str(ctx.job_id))
            time.sleep(POLL_SECONDS)
    finally:
        # Also when it exited by itself: nothing it started may outlive the job.
        _kill_group(process)
        for reader in readers:
            reader.join()
    if process.returncode != 0:
        tail = "\n".join(stderr_tail)
        raise ToolError(f"{Path(argv[0]).name} exited with {process.returncode}: {tail}")
    return CompletedProgram(
        argv=argv, returncode=process.returncode, seconds=time.monotonic() - started
    )


def _forward(stream: IO[bytes], ctx: JobContext, name: str, tail: deque[str] | None) -> None:
    for raw in stream:
        line = raw.decode(errors="replace").rstrip("\n")
        ctx.log(f"[{name}] {line}")
        if tail is not None:
            tail.append(line)
    stream.close()


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
