"""Tools that are always there, to try the service and to test it: echo, sleep, fail."""

import time

from pydantic import BaseModel, Field, JsonValue

from app.tools.base import Tool, ToolError
from app.tools.context import JobContext


class EchoInputs(BaseModel):
    message: str = Field(max_length=100_000)
    payload: JsonValue = None


class EchoOutputs(BaseModel):
    message: str
    payload: JsonValue = None


class Echo(Tool[EchoInputs, EchoOutputs]):
    name = "echo"
    version = "1.0.0"
    title = "Echo"
    description = "Returns its inputs unchanged."

    def run(self, inputs: EchoInputs, ctx: JobContext) -> EchoOutputs:
        return EchoOutputs(message=inputs.message, payload=inputs.payload)


class SleepInputs(BaseModel):
    seconds: float = Field(ge=0, le=3600)
    steps: int = Field(default=10, ge=1, le=1000)


class SleepOutputs(BaseModel):
    slept: float


class Sleep(Tool[SleepInputs, SleepOutputs]):
    name = "sleep"
    version = "1.0.0"
    title = "Sleep"
    description = "Sleeps for `seconds`, reporting progress after each of `steps` steps."

    def run(self, inputs: SleepInputs, ctx: JobContext) -> SleepOutputs:
        started = time.monotonic()
        for step in range(1, inputs.steps + 1):
            time.sleep(inputs.seconds / inputs.steps)
            ctx.log(f"slept step {step}")
            ctx.progress(step / inputs.steps, f"step {step} of {inputs.steps}")
        return SleepOutputs(slept=time.monotonic() - started)


class FailInputs(BaseModel):
    message: str = Field(default="failed on purpose", max_length=10_000)


class FailOutputs(BaseModel):
    """Never produced: the tool always fails."""


class Fail(Tool[FailInputs, FailOutputs]):
    name = "fail"
    version = "1.0.0"
    title = "Fail"
    description = "Always fails with `message`, to see how failures look."

    def run(self, inputs: FailInputs, ctx: JobContext) -> FailOutputs:
        raise ToolError(inputs.message)
