"""Create the application's database and the first superuser: idempotent, run by prestart."""

import logging
from pathlib import Path

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from app.core.config import settings
from app.core.security import hash_password
from app.crud import user as user_crud

logger = logging.getLogger(__name__)


def check_database_server() -> None:
    """The server answers, whether or not the application's database exists yet."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "postgresql":
        url = url.set(database="postgres")
    probe = create_engine(url, poolclass=NullPool)
    try:
        with probe.connect() as connection:
            connection.execute(text("SELECT 1"))
    finally:
        probe.dispose()


def create_database_if_missing(url: str) -> bool:
    """Create the database `url` names when it does not exist; True when it was created."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        return False
    # CREATE DATABASE runs outside a transaction, from the server's maintenance database.
    maintenance = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with maintenance.connect() as connection:
            exists = connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
            )
            if exists:
                return False
            quoted = connection.dialect.identifier_preparer.quote(str(parsed.database))
            try:
                connection.execute(text(f"CREATE DATABASE {quoted}"))
            except ProgrammingError as error:
                raise RuntimeError(
                    f"database {parsed.database!r} does not exist and role "
                    f"{parsed.username!r} may not create it: create it, or grant CREATEDB"
                ) from error
            return True
    finally:
        maintenance.dispose()


def create_first_superuser(session: Session) -> bool:
    """Create FIRST_SUPERUSER unless a user with that email exists; True when created."""
    if user_crud.get_user_by_email(session, settings.FIRST_SUPERUSER) is not None:
        return False
    user_crud.create_user(
        session,
        email=settings.FIRST_SUPERUSER,
        hashed_password=hash_password(settings.FIRST_SUPERUSER_PASSWORD),
        is_superuser=True,
    )
    session.commit()
    return True
