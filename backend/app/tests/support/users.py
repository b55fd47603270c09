"""Users, their bearer tokens and API keys, made directly in the database."""

from app.core.security import create_access_token, hash_password, user_id_from_token
from app.crud import user as user_crud
from app.db.session import SessionLocal
from app.schemas.user import Principal
from app.services.use_cases import api_keys as api_key_service


def make_user(
    email: str, *, is_superuser: bool = False, password: str | None = "password-123"
) -> str:
    """A user in the database; returns a bearer token for it. Without a password (no
    slow hash to compute) the user cannot log in, only use the token."""
    hashed_password = "no password" if password is None else hash_password(password)
    with SessionLocal() as session:
        user = user_crud.create_user(
            session, email=email, hashed_password=hashed_password, is_superuser=is_superuser
        )
        session.commit()
        return create_access_token(user.id)


def make_api_key(token: str, name: str = "script") -> str:
    """A new API key of the token's user; returns its secret."""
    user_id = user_id_from_token(token)
    assert user_id is not None
    with SessionLocal() as session:
        owner = Principal(id=user_id, is_active=True, is_superuser=False)
        return api_key_service.create_api_key(session, owner, name).key


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
