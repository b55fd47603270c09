"""Whether the database, Redis and the broker answer (and waiting until they do), and
whether every tool loaded."""

import logging
import time
from collections.abc import Callable, Mapping

from sqlalchemy.orm import Session

from app.core.celery_app import celery_app
from app.crud import health as health_crud
from app.db.init_db import check_database_server
from app.schemas.health import Readiness
from app.tools.registry import catalog
from app.worker.redis_db.connection import ping as ping_redis

logger = logging.getLogger(__name__)

Check = Callable[[], None]


def _check_broker() -> None:
    with celery_app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=0, timeout=3)


# What prestart waits for: the application's database itself may not exist yet.
STARTUP_CHECKS: dict[str, Check] = {
    "database server": check_database_server,
    "redis": ping_redis,
    "broker": _check_broker,
}


def readiness_checks(session: Session) -> dict[str, Check]:
    """What /health/ready reports, by name."""
    return {
        "database": lambda: health_crud.ping(session),
        "redis": ping_redis,
        "broker": _check_broker,
    }


def readiness(session: Session) -> Readiness:
    """Unavailable when a backing service does not answer. Degraded, not unavailable,
    when only tools are broken: the API serves every other tool, and taking it out of a
    load balancer for one bad tool would stop them all."""
    checks = readiness_checks(session)
    failed = failures(checks)
    report = {name: failed.get(name, "ok") for name in checks}
    broken = catalog().broken
    report["tools"] = (
        f"{len(broken)} broken and left out: {', '.join(b.name or b.label for b in broken)} "
        "(`tooljobs local-tools check` says why)"
        if broken
        else "ok"
    )
    status = "unavailable" if failed else "degraded" if broken else "ok"
    return Readiness(status=status, checks=report)


def failures(checks: Mapping[str, Check]) -> dict[str, str]:
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
