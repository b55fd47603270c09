import uuid
from typing import Annotated

from fastapi import APIRouter, Response, UploadFile, status
from fastapi import File as FileField
from fastapi.responses import StreamingResponse

from app.api.deps import CurrentPrincipal, SessionDep
from app.api.downloads import download_response, download_responses
from app.api.responses import error, not_found
from app.api.routing import ApiRoute
from app.schemas.file import FileRead
from app.services.use_cases import files as file_service

router = APIRouter(prefix="/files", tags=["files"], route_class=ApiRoute)

NOT_FOUND = not_found("No such file, or not yours.")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Upload a file",
    description="Multipart upload (field `file`). Tool inputs refer to the file by its `id`. "
    "The size and sha256 are computed on the way; past MAX_UPLOAD_BYTES the answer is 413.",
    responses={413: error("Larger than MAX_UPLOAD_BYTES.")},
)
def upload_file(
    session: SessionDep,
    principal: CurrentPrincipal,
    file: Annotated[UploadFile, FileField(description="The file's content.")],
) -> FileRead:
    return file_service.upload(
        session, principal, name=file.filename, content_type=file.content_type, content=file.file
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
