from typing import Literal

from pydantic import BaseModel, Field


class Readiness(BaseModel):
    status: Literal["ok", "degraded", "unavailable"] = Field(
        description="unavailable: a backing service does not answer (503); degraded: all "
        "answer but some tools are broken and left out (200); ok: everything works."
    )
    checks: dict[str, str] = Field(
        description='Each backing service and the tools: "ok", or what is wrong.'
    )
