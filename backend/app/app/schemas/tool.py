from pydantic import BaseModel


class ToolRead(BaseModel):
    name: str
    version: str
    title: str
    description: str
    queue: str
    time_limit_seconds: int | None
    max_attempts: int
    inputs_schema: dict[str, object]
    outputs_schema: dict[str, object]
