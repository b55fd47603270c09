"""Resumable uploads: the tus 1.0.0 protocol (core, creation, termination) for files too
large to send in one request. A complete upload becomes a File, as POST /files makes.

The protocol's request headers are read here, from the request, and declared in the
OpenAPI document by hand: a bad one is tus's 400, where FastAPI would answer 422."""

import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status
from starlette.concurrency import run_in_threadpool

from app.api import tus
from app.api.deps import CurrentPrincipal, SessionDep
from app.api.received_body import received_chunks
from app.api.responses import Responses, error, not_found
from app.api.routing import ApiRoute
from app.core.config import settings
from app.models.upload import MAX_METADATA_LENGTH
from app.schemas.upload import UploadRead
from app.services.use_cases import uploads as upload_service

# Each route answers in headers, as tus does (`response_class=Response`: no JSON body
# declared), but GET, which describes an upload in JSON.
router = APIRouter(prefix="/uploads", tags=["uploads"], route_class=ApiRoute)


def _headers(**described: str) -> dict[str, Any]:
    return {
        name: {"description": text, "schema": {"type": "string"}}
        for name, text in described.items()
    }


def _tus_request(*parameters: dict[str, Any]) -> dict[str, Any]:
    return {"parameters": [tus.VERSION_PARAMETER, *parameters]}


TUS_RESUMABLE = {"Tus-Resumable": f"{tus.TUS_VERSION}, on every answer."}
PROGRESS_HEADERS = _headers(
    **TUS_RESUMABLE,
    **{
        "Upload-Offset": "The bytes received so far.",
        "Upload-Length": "The bytes the upload will have.",
        "Upload-Metadata": "As sent at creation, when it was.",
        tus.FILE_ID_HEADER: "Once complete: the id of the file it became.",
    },
)
NOT_FOUND = not_found("No such upload, or not yours.")


def version_refused(bad_request: str = "") -> Responses:
    """What app.api.tus.TusVersion answers, with what the route itself answers 400 for."""
    return {
        400: error(f"{bad_request} Tus-Resumable is missing or not a version.".strip()),
        412: {
            **error(f"Tus-Resumable names a version other than {tus.TUS_VERSION}."),
            "headers": _headers(**{"Tus-Version": "The protocol version this server speaks."}),
        },
    }


TUS_REQUEST = f"A tus request: `Tus-Resumable: {tus.TUS_VERSION}`, or 400 or 412."
SIZE = {"type": "integer", "minimum": 0}


@router.options(
    "",
    response_class=Response,
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Resumable upload capabilities",
    description="What the tus server supports: protocol version, extensions, and the "
    "largest upload (MAX_UPLOAD_BYTES). Needs no credentials.",
    responses={
        204: {
            "description": "The capabilities, in headers.",
            "headers": _headers(
                **TUS_RESUMABLE,
                **{
                    "Tus-Version": "Protocol versions spoken.",
                    "Tus-Extension": f"`{tus.TUS_EXTENSIONS}`.",
                    "Tus-Max-Size": "MAX_UPLOAD_BYTES.",
                },
            ),
        }
    },
)
def upload_capabilities() -> Response:
    return Response(
        status_code=status.HTTP_204_NO_CONTENT,
        headers=tus.capability_headers(settings.MAX_UPLOAD_BYTES),
    )


@router.post(
    "",
    response_class=Response,
    status_code=status.HTTP_201_CREATED,
    summary="Create a resumable upload",
    description="tus creation. `Upload-Length` (required) is the file's size; "
    "`Upload-Metadata` may carry `filename` and `filetype` (base64, as tus spells them), "
    "which become the file's name and content type. The upload is yours; send its bytes "
    f"with PATCH to `Location`. An empty upload (length 0) is a file at once. {TUS_REQUEST}",
    openapi_extra=_tus_request(
        {
            **tus.header_parameter(
                "Upload-Length",
                "The file's size in bytes, up to MAX_UPLOAD_BYTES (413 past it).",
                {**SIZE, "maximum": settings.MAX_UPLOAD_BYTES},
            ),
            "required": True,
        },
        tus.header_parameter(
            "Upload-Metadata",
            "`filename <base64>,filetype <base64>`, and any keys of the client's.",
            {
                "type": "string",
                "pattern": tus.METADATA_PATTERN,
                "maxLength": MAX_METADATA_LENGTH,
            },
        ),
    ),
    responses={
        201: {
            "description": "Created: PATCH its bytes to `Location`.",
            "headers": _headers(
                **TUS_RESUMABLE,
                Location="The upload's URL.",
                **{tus.FILE_ID_HEADER: "For an empty upload: the file it became at once."},
            ),
        },
        413: error("Upload-Length is larger than MAX_UPLOAD_BYTES."),
        **version_refused(
            "Upload-Length is missing or not a non-negative integer, or Upload-Metadata "
            "does not parse."
        ),
    },
)
def create_upload(request: Request, session: SessionDep, principal: CurrentPrincipal) -> Response:
    length = tus.parse_size("Upload-Length", request.headers.get("upload-length"))
    metadata_header = request.headers.get("upload-metadata") or None
    metadata = tus.parse_metadata(metadata_header)
    upload = upload_service.create_upload(
        session,
        principal,
        length=length,
        metadata_header=metadata_header,
        name=tus.metadata_text(metadata, "filename"),
        content_type=tus.metadata_text(metadata, "filetype"),
    )
    headers = {"Location": f"{settings.API_V1_STR}/uploads/{upload.id}"}
    if upload.file_id is not None:
        headers[tus.FILE_ID_HEADER] = str(upload.file_id)
    return Response(status_code=status.HTTP_201_CREATED, headers=headers)


@router.head(
    "/{upload_id}",
    response_class=Response,
    summary="Where a resumable upload stands",
    description="tus: the offset to resume from (`Upload-Offset`), and once the upload is "
    f"complete the file it became (`{tus.FILE_ID_HEADER}`). {TUS_REQUEST}",
    openapi_extra=_tus_request(),
    responses={
        200: {"description": "The upload's state, in headers.", "headers": PROGRESS_HEADERS},
        **NOT_FOUND,
        **version_refused(),
    },
)
def upload_progress(
    session: SessionDep, principal: CurrentPrincipal, upload_id: uuid.UUID
) -> Response:
    upload = upload_service.get_upload(session, principal, upload_id)
    return Response(status_code=status.HTTP_200_OK, headers=tus.upload_headers(upload))


@router.get(
    "/{upload_id}",
    summary="Describe a resumable upload",
    description="The upload's state as JSON, with `file_id` once complete. Not a tus "
    "request: no Tus-Resumable needed.",
    responses=NOT_FOUND,
)
def read_upload(
    session: SessionDep, principal: CurrentPrincipal, upload_id: uuid.UUID
) -> UploadRead:
    return upload_service.get_upload(session, principal, upload_id)


@router.patch(
    "/{upload_id}",
    response_class=Response,
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Send bytes of a resumable upload",
    description="tus: the body (`application/offset+octet-stream`) continues the upload "
    "at `Upload-Offset`, which must be the upload's offset (HEAD tells it). Streamed to "
    "storage; if the connection drops, the bytes that arrived are kept and HEAD counts "
    "them. The PATCH that completes the upload answers the new file's id in "
    f"`{tus.FILE_ID_HEADER}`; an empty PATCH at the end makes the file again if making "
    f"it failed. {TUS_REQUEST}",
    openapi_extra={
        **_tus_request(
            {
                **tus.header_parameter(
                    "Upload-Offset", "Where this body starts: the upload's offset.", SIZE
                ),
                "required": True,
            }
        ),
        "requestBody": {
            "required": True,
            "content": {
                tus.OFFSET_CONTENT_TYPE: {"schema": {"type": "string", "format": "binary"}}
            },
        },
    },
    responses={
        204: {"description": "Stored; the new offset.", "headers": PROGRESS_HEADERS},
        **NOT_FOUND,
        409: error("Upload-Offset is not the upload's offset: HEAD, then resume from it."),
        413: error("The body would pass the upload's Upload-Length."),
        415: error(f"The body is not `{tus.OFFSET_CONTENT_TYPE}`."),
        **version_refused("Upload-Offset is missing or not a non-negative integer."),
    },
)
async def append_to_upload(
    request: Request, session: SessionDep, principal: CurrentPrincipal, upload_id: uuid.UUID
) -> Response:
    if not tus.is_offset_stream(request.headers.get("content-type")):
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            detail=f"Content-Type: send the body as {tus.OFFSET_CONTENT_TYPE}",
        )
    offset = tus.parse_size("Upload-Offset", request.headers.get("upload-offset"))
    content_length = request.headers.get("content-length")
    # The use-case runs in a thread and reads the body from there as it arrives.
    upload = await run_in_threadpool(
        upload_service.append,
        session,
        principal,
        upload_id,
        offset=offset,
        # Absent when the body comes chunked: then only the storage counts it.
        declared_size=None
        if content_length is None
        else tus.parse_size("Content-Length", content_length),
        chunks=received_chunks(request),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT, headers=tus.upload_headers(upload))


@router.delete(
    "/{upload_id}",
    response_class=Response,
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Cancel a resumable upload",
    description="tus termination: the upload and the bytes it received are removed "
    f"(the file a complete upload became stays: DELETE /files/{{id}}). {TUS_REQUEST}",
    openapi_extra=_tus_request(),
    responses={
        204: {"description": "Removed.", "headers": _headers(**TUS_RESUMABLE)},
        **NOT_FOUND,
        **version_refused(),
    },
)
def delete_upload(session: SessionDep, principal: CurrentPrincipal, upload_id: uuid.UUID) -> None:
    upload_service.delete_upload(session, principal, upload_id)
