"""Waiting for a job without polling: Redis pub/sub on the job's channel.

Each state transition publishes the full snapshot; progress ticks publish
`{progress, message}`. Subscribers subscribe first and read the current snapshot
second, so an end that happens in between is never missed.
"""

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import redis
import redis.asyncio as aioredis

from app.core.config import settings
from app.models.job import TERMINAL_STATES
from app.schemas.job import JobRead
from app.worker.redis_db import job_channel, job_key


def event_id(job: JobRead) -> str:
    """Changes whenever what a client sees of the job changes."""
    return f"{job.updated_at.timestamp():.6f}-{job.progress:.6f}-{job.message or ''}"


async def wait_until_ended(job: JobRead, timeout_seconds: float) -> None:
    """Return once the job ended or the time is up (or Redis is down: the caller re-reads)."""
    async for current in job_updates(job, timeout_seconds=timeout_seconds):
        if current.state in TERMINAL_STATES:
            return


async def job_updates(job: JobRead, *, timeout_seconds: float | None) -> AsyncIterator[JobRead]:
    """The job now, then each change until it ended (or the time is up)."""
    try:
        async with (
            aioredis.Redis.from_url(settings.REDIS_URL) as client,
            client.pubsub() as pubsub,
        ):
            await pubsub.subscribe(job_channel(job.id))
            stored = await client.hget(job_key(job.id), "snapshot")
            current = job if stored is None else JobRead.model_validate_json(stored)
            yield current
            deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
            while current.state not in TERMINAL_STATES:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return
                message = await pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=min(remaining or 15.0, 15.0)
                )
                if message is None:
                    continue
                current = _apply(current, json.loads(message["data"]))
                yield current
    except redis.RedisError:
        return


def _apply(current: JobRead, published: dict[str, Any]) -> JobRead:
    if "state" in published:
        return JobRead.model_validate(published)
    # A progress tick: only while running, never over a newer transition.
    return current.model_copy(
        update={
            "progress": published["progress"],
            "message": published["message"] or current.message,
        }
    )
