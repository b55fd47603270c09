import uuid
from collections.abc import Collection, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models.file import File


def create_file(session: Session, file: File) -> File:
    session.add(file)
    session.flush()
    return file


def get_file(session: Session, file_id: uuid.UUID) -> File | None:
    return session.get(File, file_id)


def get_files(session: Session, file_ids: Collection[uuid.UUID]) -> Sequence[File]:
    return session.scalars(select(File).where(File.id.in_(list(file_ids)))).all()


def delete_file(session: Session, file: File) -> None:
    session.delete(file)
    session.flush()
