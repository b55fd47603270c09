"""Use-cases of users: log in, know who is calling, manage accounts."""

import logging
import uuid
from collections.abc import Sequence

from anyio.to_thread import run_sync
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.security import hash_password, verify_password
from app.crud import user as user_crud
from app.db.session import SessionLocal
from app.models.user import User
from app.schemas.user import Principal, UserCreate
from app.services import process_cache
from app.services.errors import Conflict
from app.services.hot_state import best_effort, best_effort_async
from app.worker import redis_db

logger = logging.getLogger(__name__)

# Verifying against this when the email is unknown takes as long as a real check, so
# response times do not tell which accounts exist.
_UNKNOWN_USER_HASH = hash_password("not a real password")


def authenticate(session: Session, email: str, password: str) -> User | None:
    user = user_crud.get_user_by_email(session, email)
    if user is None:
        verify_password(password, _UNKNOWN_USER_HASH)
        return None
    matches, new_hash = verify_password(password, user.hashed_password)
    if not matches:
        return None
    if new_hash is not None:
        user.hashed_password = new_hash
        session.commit()
    return user


async def principal(user_id: uuid.UUID) -> Principal | None:
    """Who the token's user is: from this process's memory, else Redis, else SQL; so
    authorising a poll needs no SQL, no thread and mostly no round trip at all."""
    found = process_cache.principal(user_id) or await best_effort_async(
        "read principal", lambda: redis_db.load_principal_async(user_id), None
    )
    if found is None:
        found = await run_sync(_principal_from_database, user_id)
    if found is not None:
        process_cache.keep_principal(found)
    return found


def _principal_from_database(user_id: uuid.UUID) -> Principal | None:
    with SessionLocal() as session:
        user = user_crud.get_user(session, user_id)
    if user is None:
        return None
    found = Principal.model_validate(user)
    best_effort("cache principal", lambda: redis_db.save_principal(found), None)
    return found


def create_user(session: Session, new_user: UserCreate) -> User:
    try:
        user = user_crud.create_user(
            session,
            email=new_user.email,
            hashed_password=hash_password(new_user.password),
            is_superuser=new_user.is_superuser,
        )
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict("a user with this email already exists") from None
    return user


def get_user(session: Session, user_id: uuid.UUID) -> User | None:
    return user_crud.get_user(session, user_id)


def list_users(session: Session, *, offset: int, limit: int) -> Sequence[User]:
    return user_crud.list_users(session, offset=offset, limit=limit)
