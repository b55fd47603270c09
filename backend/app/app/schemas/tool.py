from typing import Literal

from pydantic import BaseModel, Field


class ToolRead(BaseModel):
    status: Literal["ok"] = "ok"
    name: str
    version: str
    title: str
    description: str
    queue: str
    time_limit_seconds: int | None
    max_attempts: int
    inputs_schema: dict[str, object]
    outputs_schema: dict[str, object]


class BrokenToolRead(BaseModel):
    """A tool left out when the tools were loaded: it cannot be run until it is fixed."""

    status: Literal["broken"] = "broken"
    name: str | None = Field(description="Its name, when it declares a valid one.")
    where: str = Field(description="The file and line, or the entry point, it comes from.")
    label: str = Field(description="Its class (and name), or the module that did not import.")
    error: str = Field(description="What is wrong, and what to change.")
