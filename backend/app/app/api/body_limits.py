"""Bounds on a request before any endpoint reads it: its size, the nesting of its JSON,
and NUL characters, which neither PostgreSQL text nor a program's argv can hold.

Uploads stream to storage, which counts their bytes as it writes; here only their
declared size is checked. Every other body is small by contract, so it is read whole
(up to MAX_REQUEST_BYTES), checked, and handed on to the app unchanged.
"""

import re
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.services.use_cases.files import too_large_detail

# Room for the multipart boundaries and part headers around the file itself.
MULTIPART_OVERHEAD_BYTES = 64 * 1024

# A JSON string, escapes included; possessive, so an unterminated one fails in one step.
_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_AS_ARRAY_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_A_BRACKET = bytes(sorted(set(range(256)) - set(b"[]{}")))
# `\u0000` escaped by an odd number of backslashes is a NUL; after an even number, text.
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)
_PERCENT_NUL = re.compile(rb"%00|\x00")


def json_nesting_exceeds(body: bytes, max_depth: int) -> bool:
    """Whether arrays and objects nest deeper than `max_depth` (brackets in strings aside)."""
    # Most bodies have fewer brackets than the limit: nothing to look at.
    if body.count(b"[") + body.count(b"{") <= max_depth:
        return False
    # Only brackets are kept, objects' spelled as arrays': nesting is the same, and a
    # `[}` that would now pair is invalid JSON that the parser refuses all the same.
    remaining = _JSON_STRING.sub(b"", body).translate(_AS_ARRAY_BRACKETS, _NOT_A_BRACKET)
    # A pass takes away every innermost pair at C speed (replace does not look again at
    # what it made): a pair around n levels goes in pass n + 1, so nesting within the
    # limit leaves nothing after `max_depth` passes.
    # The usual deep body opens many levels in a row: found in one search.
    if b"[" * (max_depth + 1) in remaining:
        return True
    for _ in range(max_depth):
        before = len(remaining)
        remaining = remaining.replace(b"[]", b"")
        if not remaining:
            return False
        if len(remaining) == before:
            break
    # Left: a pair deeper than the limit, or brackets that do not pair. Those are the
    # JSON parser's to refuse, unless so many that the parser itself would recurse deep.
    return b"[]" in remaining or remaining.count(b"[") > max_depth


def media_type(content_type: str) -> str:
    """`type/subtype` of a Content-Type header, without parameters, lower case."""
    return content_type.partition(";")[0].strip().lower()


def is_json(media: str) -> bool:
    """Whether FastAPI parses a body of this media type as JSON."""
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _invalid(loc: str, msg: str, error_type: str) -> JSONResponse:
    # The shape of every other 422: a list of {loc, msg, type}.
    return JSONResponse(
        status_code=422, content={"detail": [{"loc": [loc], "msg": msg, "type": error_type}]}
    )


def _too_large(detail: str) -> JSONResponse:
    return JSONResponse(status_code=413, content={"detail": detail})


class BodyLimits:
    def __init__(
        self,
        app: ASGIApp,
        *,
        api_prefix: str,
        upload_path: str,
        max_upload_bytes: int,
        max_request_bytes: int,
        max_json_depth: int,
        invalid: Callable[[str, str, str], Response] = _invalid,
        too_large: Callable[[str], Response] = _too_large,
        resumable_upload_path: str | None = None,
    ) -> None:
        """`invalid(loc, msg, type)` and `too_large(detail)` word the refusals (the REST
        API's 422 and 413 unless an application words its errors otherwise). Bodies sent
        to a resumable upload under `resumable_upload_path` pass unread."""
        self.app = app
        self.invalid, self.too_large = invalid, too_large
        self.api_prefix = api_prefix
        self.upload_path = upload_path
        self.resumable_upload_path = resumable_upload_path
        self.max_upload_bytes = max_upload_bytes
        self.max_request_bytes = max_request_bytes
        self.max_json_depth = max_json_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.api_prefix):
            await self.app(scope, receive, send)
            return
        if _PERCENT_NUL.search(scope["query_string"]):
            await self.invalid("query", "a NUL character (%00) is not accepted", "nul_character")(
                scope, receive, send
            )
            return
        if self.resumable_upload_path is not None and scope["path"].startswith(
            f"{self.resumable_upload_path}/"
        ):
            # A tus PATCH streams to storage, which stops at its upload's Upload-Length.
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "")
        if scope["path"] == self.upload_path:
            if (
                declared.isdigit()
                and int(declared) > self.max_upload_bytes + MULTIPART_OVERHEAD_BYTES
            ):
                await self.too_large(too_large_detail(self.max_upload_bytes))(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        if (
            not declared
            and "transfer-encoding" not in headers
            and scope.get("http_version", "1.1") in {"1.0", "1.1"}
        ):
            # HTTP/1 without either header has no body (every poll): nothing to read.
            await self.app(scope, receive, send)
            return
        over_limit = (
            f"the request body is larger than MAX_REQUEST_BYTES ({self.max_request_bytes} bytes)"
        )
        if declared.isdigit() and int(declared) > self.max_request_bytes:
            await self.too_large(over_limit)(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # The client left before sending its body: nobody to answer.
                return
            body += message.get("body", b"")
            if len(body) > self.max_request_bytes:
                await self.too_large(over_limit)(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        refusal = self._refusal(bytes(body), headers.get("content-type", ""))
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, _replay(bytes(body), receive), send)

    def _refusal(self, body: bytes, content_type: str) -> Response | None:
        media = media_type(content_type)
        if media == "application/x-www-form-urlencoded" and _PERCENT_NUL.search(body):
            return self.invalid("body", "a NUL character (%00) is not accepted", "nul_character")
        if not body or not is_json(media):
            return None
        try:
            body.decode()
        except UnicodeDecodeError:
            return self.invalid("body", "JSON must be UTF-8 text", "json_invalid")
        if json_nesting_exceeds(body, self.max_json_depth):
            return self.invalid(
                "body",
                f"arrays and objects nest deeper than MAX_JSON_DEPTH ({self.max_json_depth})",
                "json_too_deep",
            )
        if _JSON_NUL.search(body):
            return self.invalid(
                "body", "a NUL character (\\u0000) is not accepted in text", "nul_character"
            )
        return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, once; then whatever the client sends next (a disconnect)."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed
