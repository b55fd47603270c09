"""Whether the database, Redis and the broker answer, and waiting until they do."""

import logging
import time
from collections.abc import Callable, Mapping

import redis
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from app.core.celery_app import celery_app
from app.core.config import settings
from app.db.session import engine

logger = logging.getLogger(__name__)


def check_database() -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


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


def check_redis() -> None:
    redis.Redis.from_url(settings.REDIS_URL, socket_timeout=3, socket_connect_timeout=3).ping()


def check_broker() -> None:
    with celery_app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=0, timeout=3)


Check = Callable[[], None]

# What /health/ready reports.
READINESS_CHECKS: dict[str, Check] = {
    "database": check_database,
    "redis": check_redis,
    "broker": check_broker,
}
# What prestart waits for: the database itself may not exist yet.
STARTUP_CHECKS: dict[str, Check] = {
    "database server": check_database_server,
    "redis": check_redis,
    "broker": check_broker,
}


def failures(checks: Mapping[str, Check] = READINESS_CHECKS) -> dict[str, str]:
    """Each backing service that does not answer, with why."""
    found: dict[str, str] = {}
    for name, check in checks.items():
        try:
            check()
        except Exception as error:
            found[name] = f"{type(error).__name__}: {error}"
    return found


def wait_for(
    checks: Mapping[str, Check], *, timeout_seconds: float, interval_seconds: float = 1.0
) -> None:
    """Wait until each service answers; raise TimeoutError naming those that never did."""
    deadline = time.monotonic() + timeout_seconds
    pending = dict(checks)
    while True:
        errors = failures(pending)
        if not errors:
            return
        pending = {name: checks[name] for name in errors}
        if time.monotonic() >= deadline:
            summary = "; ".join(f"{name}: {why}" for name, why in errors.items())
            raise TimeoutError(f"gave up after {timeout_seconds:.0f}s waiting for {summary}")
        logger.info("waiting for %s", ", ".join(pending))
        time.sleep(interval_seconds)
