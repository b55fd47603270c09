"""Use-cases of uploads: store, describe, read, delete; owner-scoped like jobs."""

import re
import uuid
from collections.abc import Iterable

from sqlalchemy.orm import Session

from app.core.config import settings
from app.core.storage import storage
from app.core.stored_objects import ObjectTooLarge
from app.crud import file as file_crud
from app.models.file import File
from app.schemas.file import FileRead
from app.schemas.user import Principal
from app.services import downloads
from app.services.errors import NotFound, TooLarge
from app.services.storage_keys import file_key
from app.tools.context import plain_file_name

# A media type as RFC 9110 spells it: type/subtype, then parameters without control
# characters (PostgreSQL text holds no NUL; a header value holds no line break).
_MEDIA_TYPE = re.compile(r"[\w!#$&^.+-]+/[\w!#$&^.+-]+(?:\s*;[^\x00-\x1f\x7f]*)?", re.ASCII)
MAX_CONTENT_TYPE_LENGTH = 255


def plain_content_type(raw: str | None) -> str:
    """The client's content type when it is one, else the type of any bytes."""
    if raw and len(raw) <= MAX_CONTENT_TYPE_LENGTH and _MEDIA_TYPE.fullmatch(raw):
        return raw
    return "application/octet-stream"


def too_large_detail(max_bytes: int) -> str:
    return f"the file is larger than MAX_UPLOAD_BYTES ({max_bytes} bytes)"


def upload(
    session: Session,
    owner: Principal,
    *,
    name: str | None,
    content_type: str | None,
    chunks: Iterable[bytes],
) -> FileRead:
    """Stream the chunks to storage as they come (hashing them on the way; past
    MAX_UPLOAD_BYTES nothing is kept), then record the file under a plain version of the
    client's file name."""
    file_id = uuid.uuid4()
    try:
        stored = storage().write(file_key(file_id), chunks, max_bytes=settings.MAX_UPLOAD_BYTES)
    except ObjectTooLarge:
        raise TooLarge(too_large_detail(settings.MAX_UPLOAD_BYTES)) from None
    try:
        file = file_crud.create_file(
            session,
            File(
                id=file_id,
                owner_id=owner.id,
                name=plain_file_name(name),
                content_type=plain_content_type(content_type),
                size=stored.size,
                sha256=stored.sha256,
            ),
        )
        session.commit()
    except Exception:
        storage().delete(file_key(file_id))
        raise
    return FileRead.model_validate(file)


def get_file(session: Session, principal: Principal, file_id: uuid.UUID) -> FileRead:
    return FileRead.model_validate(_owned_file(session, principal, file_id))


def download_file(session: Session, principal: Principal, file_id: uuid.UUID) -> downloads.Download:
    file = _owned_file(session, principal, file_id)
    return downloads.download(
        file_key(file.id),
        name=file.name,
        content_type=file.content_type,
        size=file.size,
        missing="file not found",
    )


def delete_file(session: Session, principal: Principal, file_id: uuid.UUID) -> None:
    file_crud.delete_file(session, _owned_file(session, principal, file_id))
    session.commit()
    storage().delete(file_key(file_id))


def _owned_file(session: Session, principal: Principal, file_id: uuid.UUID) -> File:
    file = file_crud.get_file(session, file_id)
    if file is None or not principal.may_see(file.owner_id):
        raise NotFound("file not found")
    return file
