"""A new job from a tool name and inputs: validated, not yet recorded. Shared by the
submit use-case and the schedules, so both refuse the same things in the same words."""

import uuid

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from app.core import outbound
from app.crud import file as file_crud
from app.models.job import Job
from app.schemas.job import JobOptions
from app.services.errors import FieldError, FieldPath, InvalidInput, UnknownReference
from app.tools.base import AnyTool
from app.tools.files import file_refs
from app.tools.inputs import validate_inputs
from app.tools.registry import UnknownToolError, get_tool


def new_job(
    session: Session,
    owner_id: uuid.UUID,
    tool_name: str,
    inputs: object,
    *,
    options: JobOptions,
    schedule_id: uuid.UUID | None = None,
) -> Job:
    """A valid job, not yet added to the session; InvalidInput naming the field otherwise."""
    tool = tool_or_invalid(tool_name)
    valid_inputs = valid_inputs_or_invalid(tool, inputs)
    _check_file_refs(session, owner_id, valid_inputs)
    callback_url = (
        None
        if options.callback_url is None
        else allowed_callback_url(str(options.callback_url), ("callback_url",))
    )
    return Job(
        owner_id=owner_id,
        tool=tool.name,
        tool_version=tool.version,
        inputs=valid_inputs.model_dump(mode="json"),
        priority=options.priority,
        labels=options.labels,
        callback_url=callback_url,
        max_attempts=tool.max_attempts,
        schedule_id=schedule_id,
    )


def valid_job_inputs(
    session: Session, owner_id: uuid.UUID, tool_name: str, inputs: object
) -> dict[str, object]:
    """The inputs of a job of `tool_name` for `owner_id`, as they are recorded (a
    schedule's, for its later runs); InvalidInput naming the field otherwise."""
    valid_inputs = valid_inputs_or_invalid(tool_or_invalid(tool_name), inputs)
    _check_file_refs(session, owner_id, valid_inputs)
    return valid_inputs.model_dump(mode="json")


def tool_or_invalid(name: str) -> AnyTool:
    try:
        return get_tool(name)
    except UnknownToolError:
        raise InvalidInput.at(("tool",), f"unknown tool {name!r}", "unknown_tool") from None


def valid_inputs_or_invalid(tool: AnyTool, inputs: object) -> BaseModel:
    try:
        return validate_inputs(tool.inputs_model, inputs)
    except ValidationError as error:
        raise InvalidInput(
            [
                FieldError(("inputs", *e["loc"]), e["msg"], e["type"])
                for e in error.errors(include_url=False, include_context=False)
            ]
        ) from None


def _check_file_refs(session: Session, owner_id: uuid.UUID, inputs: BaseModel) -> None:
    """Every file the inputs refer to exists and belongs to the submitter."""
    refs = list(file_refs(inputs))
    if not refs:
        return
    owned = {
        file.id
        for file in file_crud.get_files(session, {file_id for _, file_id in refs})
        if file.owner_id == owner_id
    }
    missing = [
        FieldError(("inputs", *location), "no file with this id", "file_not_found")
        for location, file_id in refs
        if file_id not in owned
    ]
    if missing:
        raise UnknownReference(missing)


def allowed_callback_url(url: str, path: FieldPath) -> str:
    """The URL as it will be called, after the outbound policy's checks that need no DNS;
    InvalidInput at `path` otherwise.

    The delivery judges the addresses the host resolves to when it calls: resolving here
    would slow submits, fail on a passing DNS hiccup, and prove nothing about the address
    the delivery will connect to."""
    try:
        outbound.check_url(url)
    except outbound.OutboundRefused as refused:
        raise InvalidInput.at(path, str(refused), "url_not_allowed") from None
    return url
