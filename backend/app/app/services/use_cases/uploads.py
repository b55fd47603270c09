"""Use-cases of resumable (tus) uploads: create, append, describe, delete; owner-scoped
like files.

Each PATCH stores the bytes it received as one part object; the database records the
part and advances the offset only once the part is whole in storage, so an offset
always counts bytes that are kept, whichever API process received them. When the last
byte arrives, the parts are streamed in order into one File (hashed on the way) and
removed.

While a PATCH receives, the upload's row names its part (`receiving_part_id`), and a
HEAD or another PATCH waits for it to end: a client whose connection was cut asks for
the offset at once, while the server is still storing what did arrive (seconds for a
large body on S3), and must be told the offset after those bytes, not before them.
"""

import itertools
import logging
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence

from sqlalchemy.orm import Session

from app.core.config import settings
from app.core.storage import read_chunks, storage
from app.core.stored_objects import ObjectTooLarge, StorageUnavailable
from app.crud import file as file_crud
from app.crud import upload as upload_crud
from app.db.base_class import utcnow
from app.models.file import File
from app.models.upload import Upload, UploadPart
from app.schemas.upload import UploadRead
from app.schemas.user import Principal
from app.services.errors import Conflict, NotFound, TooLarge
from app.services.storage_keys import file_key, upload_part_key, upload_prefix
from app.services.use_cases.files import plain_content_type, too_large_detail
from app.tools.context import plain_file_name

logger = logging.getLogger(__name__)

# How often a request waiting for a PATCH still receiving looks at the upload again.
RECEIVING_POLL_SECONDS = 0.1


def create_upload(
    session: Session,
    owner: Principal,
    *,
    length: int,
    metadata_header: str | None,
    name: str | None,
    content_type: str | None,
) -> UploadRead:
    """An upload of `length` bytes to come; an empty one is a file at once."""
    if length > settings.MAX_UPLOAD_BYTES:
        raise TooLarge(too_large_detail(settings.MAX_UPLOAD_BYTES))
    upload = upload_crud.create_upload(
        session,
        Upload(
            owner_id=owner.id,
            length=length,
            metadata_header=metadata_header,
            name=plain_file_name(name),
            content_type=plain_content_type(content_type),
        ),
    )
    session.commit()
    if length == 0:
        _finish(session, upload.id)
    return get_upload(session, owner, upload.id)


def get_upload(session: Session, principal: Principal, upload_id: uuid.UUID) -> UploadRead:
    return UploadRead.model_validate(_settled_upload(session, principal, upload_id))


def append(
    session: Session,
    principal: Principal,
    upload_id: uuid.UUID,
    *,
    offset: int,
    declared_size: int | None,
    chunks: Iterable[bytes],
) -> UploadRead:
    """Store the bytes of one PATCH at `offset` (which must be the upload's); `chunks`
    may end early (the client left): what arrived is kept and counted. The PATCH that
    completes the upload makes it a file; one with no bytes at the end retries that."""
    upload = _settled_upload(session, principal, upload_id, lock=True)
    if offset != upload.offset:
        raise Conflict(f"Upload-Offset {offset} is not the upload's offset ({upload.offset})")
    room = upload.length - upload.offset
    if declared_size is not None and declared_size > room:
        raise TooLarge(_past_length_detail(upload.length, room))
    part = UploadPart(id=uuid.uuid4(), upload_id=upload_id, offset=offset)
    upload.receiving_part_id = part.id
    # No connection held while the body arrives, which may take minutes.
    session.commit()
    try:
        received = iter(chunks)
        first = next(received, None)
        if first is None:
            _stop_receiving(session, part)
        else:
            _store_part(session, part, room, itertools.chain([first], received))
    except BaseException:
        _stop_receiving(session, part)
        raise
    upload = _owned_upload(session, principal, upload_id)
    if upload.offset == upload.length and upload.file_id is None:
        session.commit()
        _finish(session, upload_id)
        upload = _owned_upload(session, principal, upload_id)
    # As it is now: not waiting for a PATCH that began after this one.
    return UploadRead.model_validate(upload)


def delete_upload(session: Session, principal: Principal, upload_id: uuid.UUID) -> None:
    """Forget the upload and its parts; the file a complete one became stays."""
    upload = _owned_upload(session, principal, upload_id, lock=True)
    upload_crud.delete_upload(session, upload)
    session.commit()
    storage().delete(upload_prefix(upload_id))


def _past_length_detail(length: int, room: int) -> str:
    return f"the body passes Upload-Length ({length} bytes): {room} bytes remain"


def _store_part(session: Session, part: UploadPart, room: int, chunks: Iterable[bytes]) -> None:
    """Store the part and record it, which ends its PATCH's receiving."""
    key = upload_part_key(part.upload_id, part.id)
    try:
        part.size = storage().write(key, chunks, max_bytes=room).size
    except ObjectTooLarge:
        raise TooLarge(_past_length_detail(part.offset + room, room)) from None
    try:
        # Locked: of two PATCHes at one offset, or a PATCH and a DELETE, one goes first
        # and the other sees what it did.
        upload = upload_crud.get_upload(session, part.upload_id, lock=True)
        if upload is None:
            raise NotFound("upload not found")
        if upload.offset != part.offset:
            raise Conflict(f"another PATCH moved the upload to offset {upload.offset}")
        upload_crud.add_part(session, part)
        upload.offset += part.size
        upload.updated_at = utcnow()
        if upload.receiving_part_id == part.id:
            upload.receiving_part_id = None
        session.commit()
    except BaseException:
        session.rollback()
        storage().delete(key)
        raise


def _stop_receiving(session: Session, part: UploadPart) -> None:
    """The PATCH of `part` ended without recording it: clear its mark, unless a later
    PATCH that stopped waiting for it has put its own."""
    session.rollback()
    upload = upload_crud.get_upload(session, part.upload_id, lock=True)
    if upload is not None and upload.receiving_part_id == part.id:
        upload.receiving_part_id = None
    session.commit()


def _finish(session: Session, upload_id: uuid.UUID) -> None:
    """Stream the parts in order into one File (no lock held meanwhile: it may take
    minutes); the first PATCH to finish records its file, a later one drops its copy."""
    parts = upload_crud.parts_in_order(session, upload_id)
    part_keys = [upload_part_key(upload_id, part.id) for part in parts]
    session.commit()
    file_id = uuid.uuid4()
    stored = storage().write(file_key(file_id), _contents(part_keys))
    try:
        upload = upload_crud.get_upload(session, upload_id, lock=True)
        if upload is None:
            raise NotFound("upload not found")
        if upload.file_id is not None:
            storage().delete(file_key(file_id))
            session.commit()
            return
        file_crud.create_file(
            session,
            File(
                id=file_id,
                owner_id=upload.owner_id,
                name=upload.name,
                content_type=upload.content_type,
                size=stored.size,
                sha256=stored.sha256,
            ),
        )
        upload.file_id = file_id
        upload.updated_at = utcnow()
        upload_crud.delete_parts(session, upload_id)
        session.commit()
    except BaseException:
        session.rollback()
        storage().delete(file_key(file_id))
        raise
    _remove_parts(upload_id)


def _contents(part_keys: Sequence[str]) -> Iterator[bytes]:
    for key in part_keys:
        with storage().open(key) as stream:
            yield from read_chunks(stream)


def _remove_parts(upload_id: uuid.UUID) -> None:
    """Best effort: the file is recorded, so the client is told so; parts left behind
    are removed with the upload by retention."""
    try:
        storage().delete(upload_prefix(upload_id))
    except StorageUnavailable:
        logger.warning("parts of upload %s left in storage for retention", upload_id)


def _settled_upload(
    session: Session, principal: Principal, upload_id: uuid.UUID, *, lock: bool = False
) -> Upload:
    """The upload once no PATCH receives into it, or as it is after
    UPLOAD_RECEIVING_WAIT_SECONDS (a connection that hangs without closing): the offset
    check keeps the upload whole either way; waiting spares the client a 409. With
    `lock`, the row it answers is locked, as `_owned_upload` locks it."""
    deadline = time.monotonic() + settings.UPLOAD_RECEIVING_WAIT_SECONDS
    while True:
        upload = _owned_upload(session, principal, upload_id, lock=lock)
        if upload.receiving_part_id is None or time.monotonic() >= deadline:
            return upload
        # Holds no connection, and no lock, while it waits.
        session.commit()
        time.sleep(RECEIVING_POLL_SECONDS)


def _owned_upload(
    session: Session, principal: Principal, upload_id: uuid.UUID, *, lock: bool = False
) -> Upload:
    upload = upload_crud.get_upload(session, upload_id, lock=lock)
    if upload is None or not principal.may_see(upload.owner_id):
        raise NotFound("upload not found")
    return upload
