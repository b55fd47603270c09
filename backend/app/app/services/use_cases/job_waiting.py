"""Waiting for a job without polling: the job's Redis channel, followed by the API
process's one subscription (app.worker.redis_db.follower) while any of its requests
waits on the job, and handed out here to those requests.

Each state transition publishes the full snapshot; progress ticks publish
`{progress, message}`. A waiter listens first (Redis confirmed that the process follows
the job's channel) and reads the current snapshot second, so an end that happens in
between is never missed; and it reads the snapshot again every RESYNC_SECONDS, in case
a message went by while the subscription was lost.
"""

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from app.schemas.job import JobRead
from app.worker.redis_db import jobs as hot_jobs
from app.worker.redis_db.connection import RedisUnavailable
from app.worker.redis_db.follower import RedisFollower

RESYNC_SECONDS = 5.0
# How long a waiter waits for Redis to confirm that the job's channel is followed before
# it reads the snapshot anyway (Redis is reconnecting; the resync makes up for it).
FOLLOW_WAIT_SECONDS = 1.0
# Queued to a job's waiters once its channel is followed: a message is never empty.
_FOLLOWED = b""

Waiter = tuple[asyncio.AbstractEventLoop, "asyncio.Queue[bytes]"]

# The requests waiting on each job; the follower thread reads it.
_waiters: dict[uuid.UUID, set[Waiter]] = {}
_lock = threading.Lock()
_follower: RedisFollower | None = None


def follow_jobs_through(follower: RedisFollower | None) -> None:
    """The API process's follower (None: none, when it stops)."""
    global _follower
    _follower = follower


def event_id(job: JobRead) -> str:
    """Changes whenever what a client sees of the job changes."""
    return f"{job.updated_at.timestamp():.6f}-{job.progress:.6f}-{job.message or ''}"


async def wait_until_ended(job: JobRead, timeout_seconds: float) -> None:
    """Return once the job ended or the time is up (or Redis is down: the caller re-reads)."""
    async for current in job_updates(job, timeout_seconds=timeout_seconds):
        if current.state.is_terminal:
            return


async def job_updates(job: JobRead, *, timeout_seconds: float | None) -> AsyncIterator[JobRead]:
    """The job now, then each change until it ended (or the time is up)."""
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    try:
        async with _listening(job) as messages:
            current = await _stored(job)
            yield current
            while not current.state.is_terminal:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return
                try:
                    data = await asyncio.wait_for(
                        messages.get(), min(remaining or RESYNC_SECONDS, RESYNC_SECONDS)
                    )
                except TimeoutError:
                    stored = await _stored(current)
                    if stored.updated_at > current.updated_at:
                        current = stored
                        yield current
                    continue
                if data == _FOLLOWED:
                    continue  # Redis made a lost subscription again
                updated = _apply(current, json.loads(data))
                # The follower may hand over, just after this request began to listen, a
                # message sent before the snapshot it read: that is no news.
                if updated.updated_at < current.updated_at or event_id(updated) == event_id(
                    current
                ):
                    continue
                current = updated
                yield current
    except RedisUnavailable:
        return


def deliver(job_id: uuid.UUID, data: bytes) -> None:
    """RedisFollower's handler of job channels: a copy to each request waiting on it."""
    with _lock:
        waiters = list(_waiters.get(job_id, ()))
    for loop, messages in waiters:
        with suppress(RuntimeError):  # the waiter's event loop has closed
            loop.call_soon_threadsafe(messages.put_nowait, data)


def followed(job_id: uuid.UUID) -> None:
    """RedisFollower's handler of a job channel followed: its waiters may read on."""
    deliver(job_id, _FOLLOWED)


@asynccontextmanager
async def _listening(job: JobRead) -> AsyncIterator["asyncio.Queue[bytes]"]:
    """The job's messages from the moment its channel is followed (or FOLLOW_WAIT_SECONDS
    have passed)."""
    waiter: Waiter = (asyncio.get_running_loop(), asyncio.Queue())
    follower = _follower
    with _lock:
        _waiters.setdefault(job.id, set()).add(waiter)
        # Wanting and giving up the channel under the lock, in the order of the waiters.
        is_followed = follower is None or follower.follow_job(job.id)
    try:
        if follower is not None and not is_followed:
            await asyncio.to_thread(follower.subscribe_now)
            with suppress(TimeoutError):
                await asyncio.wait_for(_until_followed(waiter[1]), FOLLOW_WAIT_SECONDS)
        yield waiter[1]
    finally:
        with _lock:
            _waiters[job.id].discard(waiter)
            if not _waiters[job.id]:
                del _waiters[job.id]
                if follower is not None:
                    follower.unfollow_job(job.id)


async def _until_followed(messages: "asyncio.Queue[bytes]") -> None:
    # A message before the confirmation was sent before the snapshot is read: no news.
    while await messages.get() != _FOLLOWED:
        pass


async def _stored(job: JobRead) -> JobRead:
    """The job's snapshot in Redis, or `job` when Redis holds none (a reader re-fills it)."""
    stored = await hot_jobs.load_snapshot(job.id)
    return job if stored is None else stored


def _apply(current: JobRead, published: dict[str, object]) -> JobRead:
    if "state" in published:
        return JobRead.model_validate(published)
    # A progress tick: only while running, never over a newer transition.
    return current.model_copy(
        update={
            "progress": published["progress"],
            "message": published["message"] or current.message,
        }
    )
