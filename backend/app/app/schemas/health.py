from typing import Literal

from pydantic import BaseModel, Field


class Readiness(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = Field(description='"ok", or why the service does not answer.')
