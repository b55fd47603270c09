"""Use-cases of API keys: create one (its secret shown once), list, revoke, and tell
whose a presented key is."""

import uuid

from sqlalchemy.orm import Session, sessionmaker

from app.core.security import API_KEY_SHOWN_CHARACTERS, hash_api_key, new_api_key
from app.crud import api_key as api_key_crud
from app.db.base_class import utcnow
from app.models.api_key import ApiKey
from app.schemas.api_key import ApiKeyCreated, ApiKeyRead
from app.schemas.user import Principal
from app.services.errors import NotFound, Unavailable
from app.worker.redis_db import caches
from app.worker.redis_db.connection import RedisUnavailable


def create_api_key(session: Session, owner: Principal, name: str) -> ApiKeyCreated:
    """The new key with its secret, which is kept nowhere but in this answer."""
    secret = new_api_key()
    api_key = api_key_crud.create_api_key(
        session,
        ApiKey(
            owner_id=owner.id,
            name=name,
            prefix=secret[:API_KEY_SHOWN_CHARACTERS],
            key_hash=hash_api_key(secret),
        ),
    )
    session.commit()
    return ApiKeyCreated(key=secret, **ApiKeyRead.model_validate(api_key).model_dump())


def list_api_keys(session: Session, owner: Principal) -> list[ApiKeyRead]:
    return [ApiKeyRead.model_validate(key) for key in api_key_crud.list_api_keys(session, owner.id)]


def revoke_api_key(session: Session, owner: Principal, key_id: uuid.UUID) -> None:
    api_key = api_key_crud.get_api_key(session, key_id)
    if api_key is None or api_key.owner_id != owner.id:
        raise NotFound("no such API key, or not yours")
    # Revoked in Redis first, so that no cached owner outlives the row. Without Redis
    # nothing is revoked and the client is told to retry, rather than a cached copy
    # (Redis may come back with its saved data) letting the key in for minutes more.
    try:
        caches.mark_api_key_revoked(api_key.key_hash)
    except RedisUnavailable:
        raise Unavailable("API keys cannot be revoked while Redis is down; try again") from None
    api_key_crud.delete_api_key(session, api_key)
    session.commit()


def owner_of_api_key(sessions: sessionmaker[Session], key: str) -> uuid.UUID | None:
    """Whose the key is, or None for an unknown or revoked key.

    The owner is cached in Redis, so that a script's polls need no SQL; `last_used_at`
    is written when the cache is filled, so it is as fresh as that.
    """
    key_hash = hash_api_key(key)
    cached = caches.load_api_key_owner(key_hash)
    if cached == caches.REVOKED_API_KEY:
        return None
    if isinstance(cached, uuid.UUID):
        return cached
    with sessions() as session:
        api_key = api_key_crud.get_api_key_by_hash(session, key_hash)
        if api_key is None:
            return None
        owner_id = api_key.owner_id
        api_key_crud.record_use(session, api_key.id, utcnow())
        session.commit()
    caches.save_api_key_owner(key_hash, owner_id)
    return owner_id
