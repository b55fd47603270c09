"""The tus 1.0.0 resumable upload protocol's HTTP side (https://tus.io/protocols/resumable-upload):
its version check and header on every answer, and its request headers parsed into
values (400 naming the header when one does not parse)."""

import base64
import re
from typing import Any

from fastapi import HTTPException, status
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.models.upload import MAX_METADATA_LENGTH
from app.schemas.upload import UploadRead

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination"
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"
# The id of the File a complete upload became: our addition to the protocol's headers.
FILE_ID_HEADER = "Upload-File-Id"
# Every header a browser's tus client reads, for CORS.
EXPOSED_HEADERS = (
    "Tus-Resumable",
    "Tus-Version",
    "Tus-Extension",
    "Tus-Max-Size",
    "Upload-Offset",
    "Upload-Length",
    "Upload-Metadata",
    FILE_ID_HEADER,
)

# Far past any size limit, far short of what int() refuses to read.
_SIZE = re.compile(r"[0-9]{1,30}")
# Upload-Metadata as the protocol spells it, checked and stated in the OpenAPI document:
# `key base64` pairs, separated by commas; a key has no space or comma, the value may be
# left out. An empty header is no metadata.
_KEY = r"[!-+\--~]+"
_BASE64 = r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?"
_PAIR = rf"{_KEY}(?: {_BASE64})?"
METADATA_PATTERN = rf"^(?:{_PAIR}(?:,{_PAIR})*)?$"
# The protocol's requests but discovery (OPTIONS), on the upload collection and on one
# upload; GET of an upload is ours, plain JSON. Other methods are the router's 405.
_VERSION = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+")
_COLLECTION_METHODS = {"POST"}
_UPLOAD_METHODS = {"HEAD", "PATCH", "DELETE"}


class TusVersion:
    """Refuses a tus request of another protocol version (412, before anything else
    reads it, as the protocol says) or of none (400), and marks every answer with the
    version spoken."""

    def __init__(self, app: ASGIApp, *, path: str) -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == self.path:
            tus_methods = _COLLECTION_METHODS
        elif scope["path"].startswith(f"{self.path}/"):
            tus_methods = _UPLOAD_METHODS
        else:
            await self.app(scope, receive, send)
            return
        if scope["method"] in tus_methods:
            sent = Headers(scope=scope).get("tus-resumable")
            if sent != TUS_VERSION:
                # Another version is the protocol's 412; no version at all is a bad request.
                refusal = JSONResponse(
                    status_code=status.HTTP_412_PRECONDITION_FAILED
                    if sent is not None and _VERSION.fullmatch(sent)
                    else status.HTTP_400_BAD_REQUEST,
                    content={"detail": f"Tus-Resumable: this server speaks tus {TUS_VERSION}"},
                    headers={"Tus-Version": TUS_VERSION},
                )
                await refusal(scope, receive, _versioned(send))
                return
        await self.app(scope, receive, _versioned(send))


def _versioned(send: Send) -> Send:
    async def send_versioned(message: Message) -> None:
        if message["type"] == "http.response.start":
            MutableHeaders(scope=message)["Tus-Resumable"] = TUS_VERSION
        await send(message)

    return send_versioned


def bad_header(name: str, problem: str) -> HTTPException:
    return HTTPException(status_code=status.HTTP_400_BAD_REQUEST, detail=f"{name}: {problem}")


def parse_size(name: str, value: str | None) -> int:
    """A non-negative integer header (Upload-Length, Upload-Offset); 400 otherwise."""
    if value is None:
        raise bad_header(name, "required")
    if not _SIZE.fullmatch(value):
        raise bad_header(name, "must be a non-negative integer")
    return int(value)


def parse_metadata(value: str | None) -> dict[str, bytes]:
    """Upload-Metadata: comma-separated `key base64value` pairs (the value may be left
    out), keys without spaces or commas. tus asks clients for unique keys; a key given
    twice is not worth refusing an upload over (what the OpenAPI pattern cannot say
    should not be refused): its last value counts."""
    if not value:
        return {}
    if len(value) > MAX_METADATA_LENGTH:
        raise bad_header("Upload-Metadata", f"longer than {MAX_METADATA_LENGTH} characters")
    if re.fullmatch(METADATA_PATTERN, value) is None:
        raise bad_header("Upload-Metadata", "must be `key base64value` pairs, separated by commas")
    pairs: dict[str, bytes] = {}
    for pair in value.split(","):
        key, _, encoded = pair.partition(" ")
        pairs[key] = base64.b64decode(encoded)
    return pairs


def metadata_text(pairs: dict[str, bytes], key: str) -> str | None:
    """A metadata value as text (filename, filetype), which the use-case makes plain."""
    return pairs[key].decode(errors="replace") if key in pairs else None


def is_offset_stream(content_type: str | None) -> bool:
    return (content_type or "").partition(";")[0].strip().lower() == OFFSET_CONTENT_TYPE


def header_parameter(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    """An OpenAPI header parameter: these headers are read by the protocol's code, not
    by FastAPI, which would answer 422 where tus says 400."""
    return {"name": name, "in": "header", "description": description, "schema": schema}


VERSION_PARAMETER = {
    **header_parameter(
        "Tus-Resumable", "The protocol version the client speaks.", {"enum": [TUS_VERSION]}
    ),
    "required": True,
}


def capability_headers(max_size: int) -> dict[str, str]:
    return {
        "Tus-Version": TUS_VERSION,
        "Tus-Extension": TUS_EXTENSIONS,
        "Tus-Max-Size": str(max_size),
    }


def upload_headers(upload: UploadRead) -> dict[str, str]:
    """Where an upload stands, as HEAD and PATCH answer it; never cached, as it moves."""
    headers = {
        "Upload-Offset": str(upload.offset),
        "Upload-Length": str(upload.length),
        "Cache-Control": "no-store",
    }
    if upload.metadata_header:
        headers["Upload-Metadata"] = upload.metadata_header
    if upload.file_id is not None:
        headers[FILE_ID_HEADER] = str(upload.file_id)
    return headers
