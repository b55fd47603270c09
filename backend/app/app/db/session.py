"""The engine and session factory; each request and each task opens its own session."""

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import sessionmaker

from app.core.config import settings

# Every model mapped before the first flush, in every process (a worker imports no
# router): foreign keys between tables resolve only when all tables are known.
from app.db import base  # noqa: F401


def build_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # Worker processes and the API write the same file: wait for locks, use WAL.
        sqlite_engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(sqlite_engine, "connect", _sqlite_pragmas)
        return sqlite_engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


engine = build_engine(settings.database_url)
SessionLocal = sessionmaker(engine, expire_on_commit=False)
