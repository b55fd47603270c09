import re
from typing import Any

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, create_model

from app.api.deps import CurrentPrincipal, SessionDep
from app.api.responses import error
from app.api.routing import ApiRoute
from app.api.submissions import SUBMIT_RESPONSES, IdempotencyKey, accepted
from app.schemas.job import JobOptions, JobRead
from app.schemas.tool import ToolRead
from app.services.use_cases import jobs as job_service
from app.services.use_cases import rate_limits
from app.services.use_cases import tools as tool_service

router = APIRouter(prefix="/tools", tags=["tools"], route_class=ApiRoute)


@router.get("", summary="List tools", description="Every tool with its input and output schema.")
def list_tools(_: CurrentPrincipal) -> list[ToolRead]:
    return tool_service.list_tools()


@router.get(
    "/{name}",
    summary="Describe a tool",
    description="Its version, queue, limits, and input and output JSON Schema.",
    responses={404: error("No tool of this name.")},
)
def read_tool(_: CurrentPrincipal, name: str) -> ToolRead:
    return tool_service.describe_tool(name)


def _add_typed_submit_route(tool: ToolRead, inputs_model: type[BaseModel]) -> None:
    """`POST /tools/{tool.name}/jobs`, whose body names the tool's own inputs model."""
    model_name = "".join(part.capitalize() for part in re.split(r"[^0-9a-zA-Z]+", tool.name))
    body_model = create_model(
        f"{model_name}JobCreate", __base__=JobOptions, inputs=(inputs_model, ...)
    )

    def submit(
        session: SessionDep,
        principal: CurrentPrincipal,
        body: Any,
        idempotency_key: IdempotencyKey = None,
    ) -> Response:
        rate_limits.count_submit(principal.id)
        job, created = job_service.submit_job(
            session,
            principal,
            tool.name,
            body.inputs,
            options=body,
            idempotency_key=idempotency_key,
        )
        return accepted(job, created=created)

    # The body's type exists only at run time; FastAPI reads it from the annotations.
    submit.__annotations__["body"] = body_model
    router.add_api_route(
        f"/{tool.name}/jobs",
        submit,
        methods=["POST"],
        status_code=status.HTTP_202_ACCEPTED,
        response_model=JobRead,
        summary=f"Submit a {tool.name} job",
        description=f"{tool.title}. {tool.description} Answers like `POST /jobs`.",
        responses=SUBMIT_RESPONSES,
        operation_id=f"submit_{tool.name.replace('-', '_')}_job",
    )


for _tool, _inputs_model in tool_service.inputs_models():
    _add_typed_submit_route(_tool, _inputs_model)
