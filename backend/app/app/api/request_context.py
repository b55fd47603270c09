"""Each request's id: the caller's `X-Request-ID` when it is a plausible one (a proxy's
or a client's own, so that their logs and ours meet), else a new one. It is bound for
every log line of the request (uvicorn's access line among them), handed to the jobs
the request queues (app.core.celery_app) and sent back on the answer. A pure ASGI
middleware, as app.api.security_headers explains.
"""

import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core import log_context

HEADER = b"x-request-id"
# Letters, digits and a few separators, bounded: nothing that could forge a log line.
VALID_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")


def request_id(scope: Scope) -> str:
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for name, value in headers:
        if name == HEADER and VALID_REQUEST_ID.fullmatch(value):
            return value.decode()
    return uuid.uuid4().hex


class RequestContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        this_request_id = request_id(scope)
        log_context.start(this_request_id)
        header = (HEADER, this_request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        await self.app(scope, receive, send_with_id)
