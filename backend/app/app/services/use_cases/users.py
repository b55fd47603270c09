"""Use-cases of users: log in, know who is calling, manage accounts."""

import logging
import uuid

from anyio.to_thread import run_sync
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.core.security import hash_password, verify_password
from app.crud import user as user_crud
from app.schemas.user import Principal, UserCreate, UserRead, UserUpdate
from app.services import process_cache
from app.services.errors import Conflict, NotFound
from app.worker.redis_db import caches

logger = logging.getLogger(__name__)

# Verifying against this when the email is unknown takes as long as a real check, so
# response times do not tell which accounts exist.
_UNKNOWN_USER_HASH = hash_password("not a real password")


def authenticate(session: Session, email: str, password: str) -> Principal | None:
    """Who logs in with this email and password; None for a wrong pair."""
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
    return Principal.model_validate(user)


async def principal(sessions: sessionmaker[Session], user_id: uuid.UUID) -> Principal | None:
    """Who the token's user is: from this process's memory, else Redis, else SQL (in a
    thread); so authorising a poll needs no SQL, no thread and mostly no round trip."""
    found = process_cache.principal(user_id) or await caches.load_principal(user_id)
    if found is None:
        found = await run_sync(_principal_from_database, sessions, user_id)
    if found is not None:
        process_cache.keep_principal(found)
    return found


def _principal_from_database(
    sessions: sessionmaker[Session], user_id: uuid.UUID
) -> Principal | None:
    with sessions() as session:
        user = user_crud.get_user(session, user_id)
    if user is None:
        return None
    found = Principal.model_validate(user)
    caches.save_principal(found)
    return found


def create_user(session: Session, new_user: UserCreate) -> UserRead:
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
    return UserRead.model_validate(user)


def get_user(session: Session, user_id: uuid.UUID) -> UserRead:
    user = user_crud.get_user(session, user_id)
    if user is None:
        raise NotFound("user not found")
    return UserRead.model_validate(user)


def list_users(session: Session, *, offset: int, limit: int) -> list[UserRead]:
    users = user_crud.list_users(session, offset=offset, limit=limit)
    return [UserRead.model_validate(user) for user in users]


def update_user(session: Session, user_id: uuid.UUID, changes: UserUpdate) -> UserRead:
    """Change what `changes` gives (a superuser's use-case); every process sees the
    change at the user's next request."""
    user = user_crud.get_user(session, user_id)
    if user is None:
        raise NotFound("user not found")
    for name, value in changes.model_dump(exclude_unset=True).items():
        setattr(user, name, value)
    session.commit()
    # The cached principal carries the queued-jobs limit: replace it, and drop the copies.
    caches.save_principal(Principal.model_validate(user))
    process_cache.forget("principal", user.id)
    return UserRead.model_validate(user)
