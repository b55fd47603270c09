"""Use-cases of users: log in, know who is calling, manage accounts."""

import logging
import uuid
from collections.abc import Sequence

import redis
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.security import hash_password, verify_password
from app.crud import user as user_crud
from app.models.user import User
from app.schemas.user import Principal, UserCreate
from app.services.errors import Conflict
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


def principal(session: Session, user_id: uuid.UUID) -> Principal | None:
    """Who the token's user is; cached in Redis so authorising a poll needs no SQL."""
    try:
        cached = redis_db.load_principal(user_id)
    except redis.RedisError:
        cached = None
    if cached is not None:
        return cached
    user = user_crud.get_user(session, user_id)
    if user is None:
        return None
    found = Principal.model_validate(user)
    try:
        redis_db.save_principal(found)
    except redis.RedisError as error:
        logger.warning("could not cache principal in Redis: %r", error)
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
