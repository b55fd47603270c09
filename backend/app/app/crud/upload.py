import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.models.upload import Upload, UploadPart


def create_upload(session: Session, upload: Upload) -> Upload:
    session.add(upload)
    session.flush()
    return upload


def get_upload(session: Session, upload_id: uuid.UUID, *, lock: bool = False) -> Upload | None:
    """The upload as its row is now; with `lock`, the row is locked until the transaction
    ends, so that the PATCHes and the DELETE of one upload change it in turn."""
    return session.get(Upload, upload_id, with_for_update=lock, populate_existing=True)


def add_part(session: Session, part: UploadPart) -> None:
    session.add(part)
    session.flush()


def parts_in_order(session: Session, upload_id: uuid.UUID) -> Sequence[UploadPart]:
    statement = select(UploadPart).where(UploadPart.upload_id == upload_id)
    return session.scalars(statement.order_by(UploadPart.offset)).all()


def delete_parts(session: Session, upload_id: uuid.UUID) -> None:
    session.execute(delete(UploadPart).where(UploadPart.upload_id == upload_id))


def delete_upload(session: Session, upload: Upload) -> None:
    # Parts first: SQLite enforces the foreign key but needs no cascade to be asked.
    delete_parts(session, upload.id)
    session.delete(upload)
    session.flush()


def delete_uploads_left_since(
    session: Session, updated_before: datetime, *, limit: int
) -> Sequence[uuid.UUID]:
    """Deletes up to `limit` uploads nobody has sent bytes to since `updated_before`
    (their parts' rows with them); returns their ids, for the caller to clear storage."""
    statement = select(Upload.id).where(Upload.updated_at < updated_before).limit(limit)
    upload_ids = session.scalars(statement.with_for_update(skip_locked=True)).all()
    if upload_ids:
        session.execute(delete(UploadPart).where(UploadPart.upload_id.in_(upload_ids)))
        session.execute(delete(Upload).where(Upload.id.in_(upload_ids)))
    return upload_ids
