"""Run one program for a job: never through a shell, in the job's folder, stopped with
its whole process group on time limit, cancellation or any error of ours."""

import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import IO

from pydantic import BaseModel

from app.tools.base import ToolError, ToolTimeout
from app.tools.context import JobCancelled, JobContext

STDERR_TAIL_LINES = 20
# How often a running program is checked for cancellation.
POLL_SECONDS = 0.2


class CompletedProgram(BaseModel):
    argv: list[str]
    returncode: int
    seconds: float
    # Its stdout when `Stdout` keeps it as an output; None when it went to the log or
    # to an artifact.
    stdout: str | None = None


def run_program(
    argv: list[str],
    ctx: JobContext,
    *,
    environment: Mapping[str, str],
    time_limit_seconds: float | None,
    stdin: IO[bytes] | None = None,
    stdout: IO[bytes] | None = None,
) -> CompletedProgram:
    """Run argv in the job's folder. It reads `stdin` (else nothing) and writes into
    `stdout` (else into the job log, line by line); its stderr goes into the log."""
    started = time.monotonic()
    stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
    try:
        process = subprocess.Popen(
            argv,
            cwd=ctx.workdir,
            env=dict(environment),
            stdin=subprocess.DEVNULL if stdin is None else stdin,
            stdout=subprocess.PIPE if stdout is None else stdout,
            stderr=subprocess.PIPE,
            # Its own process group, so everything it starts is stopped with it.
            start_new_session=True,
        )
    except (OSError, ValueError) as error:
        # ValueError: a NUL in an argument, which no program's argv can hold.
        raise ToolError(f"cannot start {argv[0]!r}: {error}") from error
    assert process.stderr is not None
    readers = [
        threading.Thread(target=_forward, args=(process.stderr, ctx, "stderr", stderr_tail)),
    ]
    if process.stdout is not None:
        readers.append(threading.Thread(target=_forward, args=(process.stdout, ctx, "stdout")))
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


def _forward(stream: IO[bytes], ctx: JobContext, name: str, tail: deque[str] | None = None) -> None:
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
