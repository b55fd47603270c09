"""Tools for the lifecycle tests, installed the way a tool package is: through the
`tooljobs.tools` entry point (see the .dist-info beside this file)."""

import time
from pathlib import Path

from pydantic import BaseModel, Field

from app.tools.base import Tool
from app.tools.builtin.diagnostics import Sleep
from app.tools.context import JobContext


class SleepInputs(BaseModel):
    seconds: float = Field(ge=0, le=60)


class SleepOutputs(BaseModel):
    slept: float


class Stubborn(Tool[SleepInputs, SleepOutputs]):
    """Sleeps without ever reporting progress, so it never sees a cancel; 3 s limit."""

    name = "stubborn"
    version = "1.0.0"
    title = "Stubborn"
    time_limit_seconds = 3
    max_attempts = 2

    def run(self, inputs: SleepInputs, ctx: JobContext) -> SleepOutputs:
        started = time.monotonic()
        time.sleep(inputs.seconds)
        return SleepOutputs(slept=time.monotonic() - started)


class FlakyInputs(BaseModel):
    folder: str
    failures: int = Field(ge=0, le=5)


class FlakyOutputs(BaseModel):
    tries: int


class Flaky(Tool[FlakyInputs, FlakyOutputs]):
    """Fails with a transient ConnectionError `failures` times, then succeeds."""

    name = "flaky"
    version = "1.0.0"
    title = "Flaky"
    max_attempts = 3
    transient_errors = (ConnectionError,)

    def run(self, inputs: FlakyInputs, ctx: JobContext) -> FlakyOutputs:
        tries = Path(inputs.folder) / "tries"
        count = int(tries.read_text()) + 1 if tries.exists() else 1
        tries.write_text(str(count))
        ctx.log(f"try {count}")
        if count <= inputs.failures:
            raise ConnectionError(f"try {count} failed")
        return FlakyOutputs(tries=count)


class EchoInputs(BaseModel):
    message: str


class HeavyEcho(Tool[EchoInputs, EchoInputs]):
    """Echo on a queue of its own, as a heavy tool would be."""

    name = "heavy-echo"
    version = "1.0.0"
    title = "Heavy echo"
    queue = "heavy"

    def run(self, inputs: EchoInputs, ctx: JobContext) -> EchoInputs:
        return inputs


class BadOutput(Tool[EchoInputs, EchoInputs]):
    """Returns something that is not its Outputs model."""

    name = "bad-output"
    version = "1.0.0"
    title = "Bad output"

    def run(self, inputs: EchoInputs, ctx: JobContext) -> EchoInputs:
        return {"not": "the outputs"}  # type: ignore[return-value]


class Rerunnable(Sleep):
    """The built-in sleep, declared safe to run again: a lost worker's job is retried."""

    name = "rerunnable"
    title = "Rerunnable sleep"
    max_attempts = 3


class CountedSleepInputs(BaseModel):
    folder: str
    seconds: float = Field(ge=0, le=60)
    steps: int = Field(default=4, ge=1, le=100)


class CountedSleep(Tool[CountedSleepInputs, SleepOutputs]):
    """Sleeps like the built-in sleep, safe to rerun, and adds a line to `folder/runs`
    each time it starts: how many times a job really ran."""

    name = "counted-sleep"
    version = "1.0.0"
    title = "Counted sleep"
    max_attempts = 3

    def run(self, inputs: CountedSleepInputs, ctx: JobContext) -> SleepOutputs:
        with (Path(inputs.folder) / "runs").open("a") as runs:
            runs.write(f"{ctx.job_id}\n")
        started = time.monotonic()
        for step in range(1, inputs.steps + 1):
            time.sleep(inputs.seconds / inputs.steps)
            ctx.progress(step / inputs.steps, f"step {step} of {inputs.steps}")
        return SleepOutputs(slept=time.monotonic() - started)
