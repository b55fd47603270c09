"""What one API process remembers between requests, so that a poll needs no round trip.

Two things are kept: principals (for a few seconds: who a user is changes rarely) and
the JSON of ended jobs (an ended job never changes again). A change to either - a user
updated, a job deleted or purged - is published on a Redis channel that every API
process follows, so each drops its copy at once. A process that loses the channel
forgets everything it holds, since it may have missed a message.
"""

import threading
import uuid
from typing import Literal

from cachetools import TTLCache

from app.core.config import settings
from app.models.job import JobState
from app.schemas.user import Principal
from app.worker.redis_db import caches

Kind = Literal["principal", "job"]

# Bodies above this go to Redis each time rather than filling this process's memory.
MAX_CACHED_JOB_BYTES = 64 * 1024

_lock = threading.Lock()  # forget() also runs in the threads of sync endpoints
# Only while this process follows the invalidations does it keep anything: a process
# that does not (a worker, a CLI) or that lost the channel would serve stale copies.
_following = False
_principals: TTLCache[uuid.UUID, Principal] = TTLCache(
    maxsize=10_000, ttl=settings.PRINCIPAL_CACHE_SECONDS
)
_ended_jobs: TTLCache[uuid.UUID, tuple[uuid.UUID, JobState, bytes]] = TTLCache(
    maxsize=10_000, ttl=settings.ENDED_JOB_CACHE_SECONDS
)


def principal(user_id: uuid.UUID) -> Principal | None:
    with _lock:
        return _principals.get(user_id)


def keep_principal(found: Principal) -> None:
    if _following:
        with _lock:
            _principals[found.id] = found


def ended_job(job_id: uuid.UUID) -> tuple[uuid.UUID, JobState, bytes] | None:
    """The owner, state and JSON of an ended job this process has seen."""
    with _lock:
        return _ended_jobs.get(job_id)


def keep_ended_job(job_id: uuid.UUID, owner_id: uuid.UUID, state: JobState, body: bytes) -> None:
    if _following and len(body) <= MAX_CACHED_JOB_BYTES:
        with _lock:
            _ended_jobs[job_id] = (owner_id, state, body)


def forget(kind: Kind, item_id: uuid.UUID) -> None:
    """Drop the item here and tell every other API process to drop it too."""
    _drop(kind, item_id)
    caches.publish_invalidation(f"{kind}:{item_id}")


def _drop(kind: str, item_id: uuid.UUID) -> None:
    with _lock:
        if kind == "principal":
            _principals.pop(item_id, None)
        elif kind == "job":
            _ended_jobs.pop(item_id, None)


def follow(following: bool) -> None:
    """Whether this process hears every invalidation: it keeps copies only while it does,
    and forgets all it holds whenever that changes, since it may have missed a message."""
    global _following
    with _lock:
        _following = following
        _principals.clear()
        _ended_jobs.clear()


def drop_invalidated(item: bytes) -> None:
    """RedisFollower's handler of the invalidations channel."""
    kind, _, item_id = item.decode().partition(":")
    _drop(kind, uuid.UUID(item_id))
