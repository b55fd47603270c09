"""Whether the database, Redis and the broker answer, and waiting until they do."""

import logging
import time
from collections.abc import Callable, Iterable

import redis
from sqlalchemy import text

from app.core.celery_app import celery_app
from app.core.config import settings
from app.db.session import engine

logger = logging.getLogger(__name__)


def check_database() -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def check_redis() -> None:
    redis.Redis.from_url(settings.REDIS_URL, socket_timeout=3, socket_connect_timeout=3).ping()


def check_broker() -> None:
    with celery_app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=0, timeout=3)


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "redis": check_redis,
    "broker": check_broker,
}


def failures(names: Iterable[str] = tuple(CHECKS)) -> dict[str, str]:
    """Each named backing service that does not answer, with why."""
    found: dict[str, str] = {}
    for name in names:
        try:
            CHECKS[name]()
        except Exception as error:
            found[name] = f"{type(error).__name__}: {error}"
    return found


def wait_for(names: list[str], *, timeout_seconds: float, interval_seconds: float = 1.0) -> None:
    """Wait until each named service answers; raise TimeoutError naming those that never did."""
    deadline = time.monotonic() + timeout_seconds
    pending = list(names)
    while True:
        errors = failures(pending)
        if not errors:
            return
        pending = list(errors)
        if time.monotonic() >= deadline:
            summary = "; ".join(f"{name}: {why}" for name, why in errors.items())
            raise TimeoutError(f"gave up after {timeout_seconds:.0f}s waiting for {summary}")
        logger.info("waiting for %s", ", ".join(pending))
        time.sleep(interval_seconds)
