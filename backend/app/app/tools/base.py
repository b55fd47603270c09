"""What a tool is: typed inputs and outputs, a `run` method, and how it should be run."""

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Generic, TypeVar, get_args, get_origin

from pydantic import BaseModel

from app.tools.context import JobContext


class ToolError(Exception):
    """A tool's own, expected failure: the job ends `failed` with error.type `tool_error`."""


InputsT = TypeVar("InputsT", bound=BaseModel)
OutputsT = TypeVar("OutputsT", bound=BaseModel)


class Tool(ABC, Generic[InputsT, OutputsT]):
    """Subclass as `class MyTool(Tool[MyInputs, MyOutputs])` and implement `run`."""

    name: ClassVar[str]
    version: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str] = ""
    queue: ClassVar[str] = "default"
    time_limit_seconds: ClassVar[int | None] = None
    max_attempts: ClassVar[int] = 1
    transient_errors: ClassVar[tuple[type[Exception], ...]] = ()

    inputs_model: ClassVar[type[BaseModel]]
    outputs_model: ClassVar[type[BaseModel]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for base in getattr(cls, "__orig_bases__", ()):
            if get_origin(base) is Tool:
                cls.inputs_model, cls.outputs_model = get_args(base)

    @abstractmethod
    def run(self, inputs: InputsT, ctx: JobContext) -> OutputsT:
        """Do the work; report with `ctx.progress`, which also stops a cancelled job."""
