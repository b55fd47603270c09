import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models.user import User


def get_user(session: Session, user_id: uuid.UUID) -> User | None:
    return session.get(User, user_id)


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.scalars(select(User).where(User.email == email.lower())).first()


def create_user(
    session: Session, *, email: str, hashed_password: str, is_superuser: bool = False
) -> User:
    user = User(email=email.lower(), hashed_password=hashed_password, is_superuser=is_superuser)
    session.add(user)
    session.flush()
    return user


def list_users(session: Session, *, offset: int, limit: int) -> Sequence[User]:
    return session.scalars(
        select(User).order_by(User.created_at, User.id).offset(offset).limit(limit)
    ).all()
