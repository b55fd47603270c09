import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import Field, create_model

from app.api.deps import CurrentPrincipal, StatementSessionDep
from app.api.responses import error
from app.api.routing import ApiRoute, tool_submit_operation_id
from app.api.submissions import SUBMIT_RESPONSES, IdempotencyKey, accepted
from app.schemas.job import JobOptions, JobRead
from app.schemas.tool import BrokenToolRead, ToolRead
from app.services.use_cases import jobs as job_service
from app.services.use_cases import tools as tool_service

router = APIRouter(prefix="/tools", tags=["tools"], route_class=ApiRoute)


@router.get(
    "",
    summary="List tools",
    description="Every tool with its input and output schema. With `include=broken` "
    "(superusers only), also each tool left out when the tools were loaded, with where it "
    "is and what is wrong (`status: broken`).",
    responses={403: error("`include=broken` is for superusers.")},
)
def list_tools(
    principal: CurrentPrincipal,
    include: Annotated[
        Literal["broken"] | None, Query(description="`broken`: add the broken tools.")
    ] = None,
) -> list[Annotated[ToolRead | BrokenToolRead, Field(discriminator="status")]]:
    if include is None:
        return [*tool_service.list_tools()]
    if not principal.is_superuser:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "include=broken is for superusers")
    return [*tool_service.list_tools(), *tool_service.broken_tools()]


@router.get(
    "/{name}",
    summary="Describe a tool",
    description="Its version, queue, limits, and input and output JSON Schema.",
    responses={404: error("No tool of this name.")},
)
def read_tool(_: CurrentPrincipal, name: str) -> ToolRead:
    return tool_service.describe_tool(name)


def _add_typed_submit_route(tool: ToolRead, inputs_type: Any) -> None:
    """`POST /tools/{tool.name}/jobs`, whose body names the tool's own inputs model."""
    model_name = "".join(part.capitalize() for part in re.split(r"[^0-9a-zA-Z]+", tool.name))
    body_model = create_model(
        f"{model_name}JobCreate", __base__=JobOptions, inputs=(inputs_type, ...)
    )

    def submit(
        session: StatementSessionDep,
        principal: CurrentPrincipal,
        body: Any,
        idempotency_key: IdempotencyKey = None,
    ) -> Response:
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
        operation_id=tool_submit_operation_id(tool.name),
    )


for _tool, _inputs_type in tool_service.inputs_types():
    _add_typed_submit_route(_tool, _inputs_type)
