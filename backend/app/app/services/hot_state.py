"""Best-effort mirroring to Redis: PostgreSQL stays the record when Redis is down."""

import logging
import uuid
from collections.abc import Callable
from typing import TypeVar

import redis

from app.schemas.job import JobRead
from app.worker import redis_db

logger = logging.getLogger(__name__)

T = TypeVar("T")


def best_effort(what: str, call: Callable[[], T], fallback: T) -> T:
    """`call()`, or `fallback` (logged) when Redis does not answer."""
    try:
        return call()
    except redis.RedisError as error:
        logger.warning("Redis unavailable (%s): %r", what, error)
        return fallback


def mirror_job(job: JobRead, *, publish: bool = True) -> None:
    """Copy a committed transition to Redis and tell the job's subscribers."""
    best_effort("mirror job", lambda: redis_db.save_job(job, publish=publish), False)


def forget_job(job_id: uuid.UUID) -> None:
    best_effort("forget job", lambda: redis_db.forget_job(job_id), None)


def load_job(job_id: uuid.UUID) -> JobRead | None:
    return best_effort("read job", lambda: redis_db.load_job(job_id), None)
