"""Each request's id and its access line.

The id is the caller's `X-Request-ID` when it is a plausible one (a proxy's or a client's
own, so their logs and ours meet), else a new one; it is bound for every log line of
the request, handed to the jobs it queues (app.core.celery_app) and sent back on the
answer. When the answer is done, one line says what was asked, the status and how long
it took. A pure ASGI middleware, as app.api.security_headers explains.
"""

import re
import time
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core import log_context

HEADER = b"x-request-id"
# Letters, digits and a few separators, bounded: nothing that could forge a log line.
VALID_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")

access_log = structlog.stdlib.get_logger("app.access")


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
        started = time.perf_counter()
        this_request_id = request_id(scope)
        log_context.start(this_request_id)
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", ()),
                    (HEADER, this_request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            access_log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
