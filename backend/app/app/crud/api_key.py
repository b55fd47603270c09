import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models.api_key import ApiKey


def create_api_key(session: Session, api_key: ApiKey) -> ApiKey:
    session.add(api_key)
    session.flush()
    return api_key


def get_api_key(session: Session, key_id: uuid.UUID) -> ApiKey | None:
    return session.get(ApiKey, key_id)


def get_api_key_by_hash(session: Session, key_hash: str) -> ApiKey | None:
    return session.scalars(select(ApiKey).where(ApiKey.key_hash == key_hash)).first()


def list_api_keys(session: Session, owner_id: uuid.UUID) -> Sequence[ApiKey]:
    return session.scalars(
        select(ApiKey).where(ApiKey.owner_id == owner_id).order_by(ApiKey.created_at, ApiKey.id)
    ).all()


def delete_api_key(session: Session, api_key: ApiKey) -> None:
    session.delete(api_key)
    session.flush()


def record_use(session: Session, key_id: uuid.UUID, at: datetime) -> None:
    # A statement, not an ORM change: a key revoked meanwhile is no row to update, not an error.
    session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=at))
