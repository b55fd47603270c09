"""Password hashing (Argon2 through pwdlib) and access tokens (JWT through PyJWT)."""

import time
import uuid
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import jwt
from pwdlib import PasswordHash

from app.core.config import settings

JWT_ALGORITHM = "HS256"

password_hash = PasswordHash.recommended()


def hash_password(password: str) -> str:
    return password_hash.hash(password)


def verify_password(password: str, hashed: str) -> tuple[bool, str | None]:
    """Whether the password matches, and a new hash when the stored one is outdated."""
    return password_hash.verify_and_update(password, hashed)


def create_access_token(user_id: uuid.UUID) -> str:
    expires = datetime.now(UTC) + timedelta(minutes=settings.ACCESS_TOKEN_EXPIRE_MINUTES)
    payload = {"sub": str(user_id), "exp": expires}
    return jwt.encode(payload, settings.SECRET_KEY, algorithm=JWT_ALGORITHM)


def user_id_from_token(token: str) -> uuid.UUID | None:
    """The token's user id, or None when it is malformed, tampered with or expired."""
    verified = _verified_token(token)
    if verified is None:
        return None
    user_id, expires_at = verified
    return user_id if time.time() < expires_at else None


# Checking a signature costs more than the rest of a poll: a client polling with the
# same token has it checked once. The expiry is still checked on every use.
@lru_cache(maxsize=4096)
def _verified_token(token: str) -> tuple[uuid.UUID, float] | None:
    try:
        payload = jwt.decode(
            token, settings.SECRET_KEY, algorithms=[JWT_ALGORITHM], options={"require": ["exp"]}
        )
        return uuid.UUID(str(payload["sub"])), float(payload["exp"])
    except (jwt.InvalidTokenError, KeyError, ValueError, TypeError):
        return None
