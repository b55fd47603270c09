"""Best-effort mirroring to Redis: PostgreSQL stays the record when Redis is down."""

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis

from app.models.job import JobState
from app.schemas.job import JobRead
from app.services import process_cache
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


async def best_effort_async(what: str, call: Callable[[], Awaitable[T]], fallback: T) -> T:
    """`await call()`, or `fallback` (logged) when Redis does not answer."""
    try:
        return await call()
    except redis.RedisError as error:
        logger.warning("Redis unavailable (%s): %r", what, error)
        return fallback


def mirror_job(job: JobRead, *, publish: bool = True, sent: bool = False) -> None:
    """Copy a committed transition to Redis and tell the job's subscribers."""
    best_effort("mirror job", lambda: redis_db.save_job(job, publish=publish, sent=sent), False)


def forget_job(job_id: uuid.UUID) -> None:
    best_effort("forget job", lambda: redis_db.forget_job(job_id), None)
    process_cache.forget("job", job_id)


def load_job(job_id: uuid.UUID) -> JobRead | None:
    return best_effort("read job", lambda: redis_db.load_job(job_id), None)


async def load_job_json(job_id: uuid.UUID) -> tuple[uuid.UUID, JobState, bytes] | None:
    return await best_effort_async("read job", lambda: redis_db.load_job_json(job_id), None)


def beat_heart(job_id: uuid.UUID) -> float | None:
    """Refresh the job's heartbeat; the one it replaced, if Redis answers and had one."""
    return best_effort("heartbeat", lambda: redis_db.beat_heart(job_id), None)


def restore_heartbeat(job_id: uuid.UUID, beat: float | None) -> None:
    best_effort("heartbeat", lambda: redis_db.restore_heartbeat(job_id, beat), None)


def cancel_requested(job_id: uuid.UUID) -> bool:
    return best_effort("cancel flag", lambda: redis_db.cancel_requested(job_id), False)
