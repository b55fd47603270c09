"""What a tool is: typed inputs and outputs, a `run` method, and how it should be run."""

import inspect
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Generic, TypeVar, get_args, get_origin

from pydantic import BaseModel

from app.tools.context import JobContext


class ToolError(Exception):
    """A tool's own, expected failure: the job ends `failed` with error.type `tool_error`."""


class ToolTimeout(Exception):
    """The tool ran past its time limit: the job ends `failed` with error.type `timeout`."""


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
    # A mockup twin: same name and models, a fast fake body; used when MOCKUP_TESTS is set.
    is_mockup: ClassVar[bool] = False

    inputs_model: ClassVar[type[BaseModel]]
    outputs_model: ClassVar[type[BaseModel]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # `class MyTool(Tool[In, Out])`, or of a generic base such as CommandLineTool[In, Out].
        for base in getattr(cls, "__orig_bases__", ()):
            origin, args = get_origin(base), get_args(base)
            if (
                inspect.isclass(origin)
                and issubclass(origin, Tool)
                and len(args) == 2
                and all(inspect.isclass(arg) and issubclass(arg, BaseModel) for arg in args)
            ):
                cls.inputs_model, cls.outputs_model = args

    @abstractmethod
    def run(self, inputs: InputsT, ctx: JobContext) -> OutputsT:
        """Do the work; report with `ctx.progress`, which also stops a cancelled job."""


AnyTool = type[Tool]  # type: ignore[type-arg]
