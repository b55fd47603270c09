"""Password hashing (Argon2 through pwdlib), access tokens (JWT through PyJWT) and API keys."""

import hashlib
import hmac
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import jwt
from pwdlib import PasswordHash

from app.core.config import settings

JWT_ALGORITHM = "HS256"

# Keys start with this, so that secret scanners and people recognise a leaked one.
API_KEY_MARK = "tj_"
# Shown in listings to tell keys apart: the mark and 8 random characters (of 43).
API_KEY_SHOWN_CHARACTERS = len(API_KEY_MARK) + 8

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


def new_api_key() -> str:
    """A fresh secret: 256 random bits, URL-safe."""
    return API_KEY_MARK + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """What the database keeps of a key, and what a presented key is looked up by.

    Not Argon2, unlike passwords: a slow hash protects guessable secrets that people
    choose, and an API key is 256 random bits that nobody can guess, so a slow hash
    would only add tens of milliseconds of CPU to every request that carries a key.
    A fast hash also lets the lookup be one indexed equality. It is keyed (HMAC-SHA256,
    with a key derived from SECRET_KEY for this use alone) so that a copy of the
    database alone does not let anyone test candidate keys; rotating SECRET_KEY
    therefore revokes every API key.
    """
    hashing_key = hmac.new(settings.SECRET_KEY.encode(), b"tooljobs api keys", hashlib.sha256)
    return hmac.new(hashing_key.digest(), key.encode(), hashlib.sha256).hexdigest()
