"""Use-cases of uploads: store, describe, read, delete; owner-scoped like jobs."""

import re
import uuid
from collections.abc import Iterable
from typing import BinaryIO

from sqlalchemy.orm import Session

from app.core.config import settings
from app.core.storage import TooLarge, storage
from app.crud import file as file_crud
from app.models.file import File
from app.schemas.user import Principal
from app.services.errors import NotFound, ServiceError
from app.services.storage_keys import file_key


class PayloadTooLarge(ServiceError):
    status_code = 413


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
    name: str,
    content_type: str | None,
    chunks: Iterable[bytes],
) -> File:
    """Stream the content to storage (hashing it on the way), then record it."""
    file_id = uuid.uuid4()
    try:
        stored = storage().write(file_key(file_id), chunks, max_bytes=settings.MAX_UPLOAD_BYTES)
    except TooLarge:
        raise PayloadTooLarge(too_large_detail(settings.MAX_UPLOAD_BYTES)) from None
    try:
        file = file_crud.create_file(
            session,
            File(
                id=file_id,
                owner_id=owner.id,
                name=name,
                content_type=plain_content_type(content_type),
                size=stored.size,
                sha256=stored.sha256,
            ),
        )
        session.commit()
    except Exception:
        storage().delete(file_key(file_id))
        raise
    return file


def get_file(session: Session, principal: Principal, file_id: uuid.UUID) -> File:
    file = file_crud.get_file(session, file_id)
    if file is None or not (principal.is_superuser or file.owner_id == principal.id):
        raise NotFound("file not found")
    return file


def open_content(file: File) -> BinaryIO:
    try:
        return storage().open(file_key(file.id))
    except (FileNotFoundError, ValueError):
        # Its bytes are gone, or a link in storage leads out of it: nothing to serve.
        raise NotFound("file not found") from None


def delete_file(session: Session, principal: Principal, file_id: uuid.UUID) -> None:
    file = get_file(session, principal, file_id)
    file_crud.delete_file(session, file)
    session.commit()
    storage().delete(file_key(file_id))
