"""What every log line of a request or a job carries: its request id, job id, tool and
user id, bound where each becomes known and read by app.core.log_config's processors.

structlog keeps them in context variables, so each request (an asyncio task, and the
threads it hands work to) and each task of a worker sees its own.
"""

import uuid

from structlog.contextvars import bind_contextvars, clear_contextvars, get_contextvars

REQUEST_ID = "request_id"


def start(request_id: str | None) -> None:
    """A new request or task: nothing of the one before, and its request id if it has one."""
    clear_contextvars()
    if request_id is not None:
        bind_contextvars(request_id=request_id)


def request_id() -> str | None:
    """The request id of this request or task, to hand on to the work it queues."""
    value = get_contextvars().get(REQUEST_ID)
    return value if isinstance(value, str) else None


def bind_user(user_id: uuid.UUID) -> None:
    bind_contextvars(user_id=str(user_id))


def bind_job(
    job_id: uuid.UUID | str, *, tool: str | None = None, user_id: uuid.UUID | None = None
) -> None:
    fields = {"job_id": str(job_id)}
    if tool is not None:
        fields["tool"] = tool
    if user_id is not None:
        fields["user_id"] = str(user_id)
    bind_contextvars(**fields)
