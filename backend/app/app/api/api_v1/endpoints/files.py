import uuid
from typing import Any

from fastapi import APIRouter, Request, Response, status
from fastapi.openapi.constants import REF_PREFIX
from fastapi.responses import StreamingResponse

from app.api.deps import CurrentPrincipal, SessionDep
from app.api.downloads import download_response, download_responses
from app.api.links import FILE_LINKS
from app.api.multipart_file import file_part
from app.api.received_body import received_chunks
from app.api.responses import error, not_found
from app.api.routing import ApiRoute
from app.core.config import settings
from app.schemas.file import FileRead
from app.services.use_cases import files as file_service

router = APIRouter(prefix="/files", tags=["files"], route_class=ApiRoute)

NOT_FOUND = not_found("No such file, or not yours.")


# The body is read by the endpoint as it arrives, not by FastAPI before it runs, so the
# form it expects is described here (as FastAPI would describe an UploadFile field).
UPLOAD_FORM: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "title": "Upload",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "contentMediaType": "application/octet-stream",
                            "title": "File",
                            "description": "The file's content.",
                        }
                    },
                }
            }
        },
    }
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Upload a file",
    description="Multipart upload (field `file`). Tool inputs refer to the file by its `id`. "
    "The file streams to storage as it arrives; its size and sha256 are computed on the way, "
    "and past MAX_UPLOAD_BYTES the answer is 413 at once, with nothing kept.",
    openapi_extra=UPLOAD_FORM,
    responses={
        201: FILE_LINKS,
        413: error("Larger than MAX_UPLOAD_BYTES."),
        422: {
            "description": "No part `file`, a body that is not multipart/form-data, "
            "or one that does not parse or ends early.",
            "content": {
                "application/json": {"schema": {"$ref": f"{REF_PREFIX}HTTPValidationError"}}
            },
        },
    },
)
def upload_file(session: SessionDep, principal: CurrentPrincipal, request: Request) -> FileRead:
    # Sync, so FastAPI runs it in a worker thread, where storage (boto3 on S3) may block.
    # The thread pulls the body chunk by chunk from the event loop (received_chunks:
    # anyio.from_thread), which never blocks; uvicorn stops reading the socket while a
    # chunk waits, so memory holds about one chunk and one S3 part whatever the size.
    part = file_part(
        received_chunks(request),
        request.headers.get("content-type", ""),
        field="file",
        max_bytes=settings.MAX_UPLOAD_BYTES,
    )
    return file_service.upload(
        session, principal, name=part.file_name, content_type=part.content_type, chunks=part.chunks
    )


@router.get(
    "/{file_id}", summary="Describe a file", description="Name, size, sha256.", responses=NOT_FOUND
)
def read_file(session: SessionDep, principal: CurrentPrincipal, file_id: uuid.UUID) -> FileRead:
    return file_service.get_file(session, principal, file_id)


@router.get(
    "/{file_id}/content",
    summary="Download a file",
    description="The file's bytes, as uploaded, or with S3 storage a 307 to a short-lived "
    "presigned URL of them.",
    response_class=StreamingResponse,
    responses=download_responses("No such file, or not yours."),
)
def read_file_content(
    session: SessionDep, principal: CurrentPrincipal, file_id: uuid.UUID
) -> Response:
    return download_response(file_service.download_file(session, principal, file_id))


@router.delete(
    "/{file_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a file",
    description="Removes the file; jobs that have not read it yet fail.",
    responses=NOT_FOUND,
)
def delete_file(session: SessionDep, principal: CurrentPrincipal, file_id: uuid.UUID) -> None:
    file_service.delete_file(session, principal, file_id)
