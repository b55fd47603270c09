"""The engine and session factory; each request and each task opens its own session."""

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import sessionmaker

from app.core.config import settings

# Every model mapped before the first flush, in every process (a worker imports no
# router): foreign keys between tables resolve only when all tables are known.
from app.db import base  # noqa: F401
from app.db.sql_log import log_statements


def build_engine(url: str, **options: Any) -> Engine:
    if url.startswith("sqlite"):
        # Worker processes and the API write the same file: wait for locks, use WAL.
        sqlite_engine = create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, **options
        )
        event.listen(sqlite_engine, "connect", _sqlite_pragmas)
        return sqlite_engine
    # No pool_pre_ping: it costs a round trip per request. A connection found dead fails
    # its request (503), and SQLAlchemy then drops every older pooled connection, so the
    # API recovers by itself once the database is back. Pool as large as the threads
    # that may hold a connection at once, so bursts do not reconnect.
    return create_engine(
        url,
        pool_size=settings.DATABASE_POOL_SIZE,
        max_overflow=settings.DATABASE_MAX_OVERFLOW,
        pool_recycle=3600,
        **options,
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


engine = build_engine(settings.database_url)
SessionLocal = sessionmaker(engine, expire_on_commit=False)

# A job's run on a worker: its transitions are one statement each, committed as it runs
# (one round trip instead of BEGIN, the statement, COMMIT). A pool of its own, set to
# autocommit once per connection: switching a pooled connection there and back costs a
# round trip each way. The connections open only in processes that run jobs.
autocommit_engine = build_engine(settings.database_url, isolation_level="AUTOCOMMIT")
StatementSessionLocal = sessionmaker(autocommit_engine, expire_on_commit=False)
if settings.LOG_SQL:
    log_statements(engine, autocommit_engine)
