"""The hot state in Redis: job snapshots, progress ticks, heartbeats, cached principals and
the owners of API keys.

Redis may lose everything at any moment: PostgreSQL is the record and every reader
falls back to it. A job's hash holds `snapshot` (the JSON of JobRead, written at each
state transition) and `progress`/`message` (ticks from the running tool, overlaid on
the snapshot while it is running).
"""

import asyncio
import json
import time
import uuid
from functools import cache
from typing import Final, Literal
from weakref import WeakKeyDictionary

import redis
import redis.asyncio as aioredis
from redis.commands.core import Script

from app.core.config import settings
from app.models.job import JobState
from app.schemas.job import JobRead
from app.schemas.user import Principal

PREFIX = "tooljobs"
PRINCIPAL_TTL_SECONDS = 300
# API processes drop their copies of the principals and ended jobs named here.
INVALIDATIONS_CHANNEL = f"{PREFIX}:invalidations"
# What is cached for an API key while it is being revoked and for a while after.
REVOKED_API_KEY: Final = "revoked"
# When Redis's current data began (seconds since the epoch); gone with the data.
HOT_STATE_SINCE_KEY: Final = f"{PREFIX}:hot-state-since"


# Jobs that ended, by tool and state, since Redis last lost its data.
ENDED_JOBS_KEY = f"{PREFIX}:metrics:ended-jobs"
ENDED_JOBS_SEPARATOR = "|"  # never in a state, so the last one in a field splits it


def job_key(job_id: uuid.UUID) -> str:
    return f"{PREFIX}:job:{job_id}"


def job_channel(job_id: uuid.UUID) -> str:
    return f"{PREFIX}:job:{job_id}:events"


# Every job's channel, for API processes that follow them all on one connection.
JOB_CHANNELS_PATTERN = f"{PREFIX}:job:*:events"


def heartbeat_key(job_id: uuid.UUID) -> str:
    return f"{PREFIX}:heartbeat:{job_id}"


def cancel_key(job_id: uuid.UUID) -> str:
    return f"{PREFIX}:cancel:{job_id}"


def log_key(job_id: uuid.UUID) -> str:
    return f"{PREFIX}:log:{job_id}"


def principal_key(user_id: uuid.UUID) -> str:
    return f"{PREFIX}:principal:{user_id}"


def api_key_key(key_hash: str) -> str:
    return f"{PREFIX}:api-key:{key_hash}"


@cache
def client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, health_check_interval=30)


# An asyncio connection belongs to the event loop that opened it (a test client runs
# one loop per app start), so each loop gets its own client.
_async_clients: WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = WeakKeyDictionary()


def async_client() -> aioredis.Redis:
    loop = asyncio.get_running_loop()
    found = _async_clients.get(loop)
    if found is None:
        found = _async_clients[loop] = aioredis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=5, health_check_interval=30
        )
    return found


# Writes a snapshot only when it is not older than the stored one: a reader re-filling
# Redis from PostgreSQL must never overwrite a newer transition mirrored by a worker.
# `owner` and `state` beside the snapshot let a reader authorise without parsing it. An
# ended job's live log goes with its last transition: readers then use the stored log.
# The move of a stored job from a live state to its end is counted for /metrics.
_SAVE_NEWER_SNAPSHOT = """
local stored = redis.call('HMGET', KEYS[1], 'version', 'state')
if stored[1] and tonumber(stored[1]) > tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'snapshot', ARGV[1], 'version', ARGV[2], 'owner', ARGV[4],
  'state', ARGV[7])
redis.call('HDEL', KEYS[1], 'progress', 'message')
if ARGV[6] == '1' then redis.call('HSET', KEYS[1], 'sent', 1) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
if ARGV[8] == '1' then
  redis.call('DEL', KEYS[3])
  if stored[2] and stored[2] ~= ARGV[7] then redis.call('HINCRBY', KEYS[4], ARGV[9], 1) end
end
if ARGV[5] == '1' then redis.call('PUBLISH', KEYS[2], ARGV[1]) end
return 1
"""


@cache
def _save_newer_snapshot() -> Script:
    return client().register_script(_SAVE_NEWER_SNAPSHOT)


def save_job(job: JobRead, *, publish: bool = True, sent: bool = False) -> bool:
    """Store the snapshot of a state transition and tell the job's subscribers; `sent`
    also marks that the broker has the job's task, so the re-send sweep leaves it alone.

    False when Redis already holds a newer snapshot of this job.
    """
    written = _save_newer_snapshot()(
        keys=[job_key(job.id), job_channel(job.id), log_key(job.id), ENDED_JOBS_KEY],
        args=[
            job.model_dump_json(),
            job.updated_at.timestamp(),
            settings.JOB_SNAPSHOT_TTL_SECONDS,
            str(job.owner_id),
            int(publish),
            int(sent),
            job.state.value,
            int(job.state.is_terminal),
            f"{job.tool}{ENDED_JOBS_SEPARATOR}{job.state.value}",
        ],
    )
    return bool(written)


def load_job(job_id: uuid.UUID) -> JobRead | None:
    snapshot, progress, message = client().hmget(
        job_key(job_id), ["snapshot", "progress", "message"]
    )
    if snapshot is None:
        return None
    job = JobRead.model_validate_json(snapshot)
    if job.state is JobState.running and progress is not None:
        job.progress = float(progress)
        job.message = message.decode() if isinstance(message, bytes) else job.message
    return job


async def load_job_json(job_id: uuid.UUID) -> tuple[uuid.UUID, JobState, bytes] | None:
    """The job's owner, state and JSON as clients see it, without parsing the JSON
    unless a progress tick has to be overlaid."""
    fields: list[bytes | None] = await async_client().hmget(  # type: ignore[assignment]
        job_key(job_id), ["snapshot", "owner", "state", "progress", "message"]
    )
    snapshot, owner, state, progress, message = fields
    if snapshot is None or owner is None or state is None:
        return None
    if progress is not None:
        job = json.loads(snapshot)
        if job["state"] == JobState.running:
            job["progress"] = float(progress)
            job["message"] = job["message"] if message is None else message.decode()
            snapshot = json.dumps(job, separators=(",", ":")).encode()
    return uuid.UUID(owner.decode()), JobState(state.decode()), snapshot


def tick_job(job_id: uuid.UUID, progress: float, message: str | None) -> None:
    """A progress report: Redis only; the last one is flushed to PostgreSQL at the end."""
    key = job_key(job_id)
    pipe = client().pipeline(transaction=False)
    pipe.hset(key, "progress", progress)
    if message is not None:
        pipe.hset(key, "message", message)
    pipe.expire(key, settings.JOB_SNAPSHOT_TTL_SECONDS)
    pipe.publish(job_channel(job_id), json.dumps({"progress": progress, "message": message}))
    pipe.execute()


def beat_heart(job_id: uuid.UUID) -> float | None:
    """Refresh the job's heartbeat; returns the one it replaced (seconds since the epoch)."""
    previous = client().set(
        heartbeat_key(job_id),
        time.time(),
        ex=_heartbeat_lifetime(),
        get=True,
    )
    return None if previous is None else float(previous)


def restore_heartbeat(job_id: uuid.UUID, beat: float | None) -> None:
    """Put back the heartbeat that `beat_heart` replaced (None: there was none), with
    the time it had left."""
    key = heartbeat_key(job_id)
    if beat is not None:
        left = beat + _heartbeat_lifetime() - time.time()
        if left > 0:
            client().set(key, beat, px=int(left * 1000))
            return
    client().delete(key)


def _heartbeat_lifetime() -> int:
    """Seconds a heartbeat key lives: a little longer than the reaper waits for one."""
    return int(settings.WORKER_LOST_AFTER_SECONDS) + 1


def is_recent(beat: float | None) -> bool:
    return beat is not None and time.time() - beat < settings.WORKER_LOST_AFTER_SECONDS


def hot_state_age() -> float:
    """Seconds Redis has held its current data. The first call after Redis lost it (a
    restart without persistence, a flush) starts the clock, so the age is never more
    than the truth."""
    now = time.time()
    pipe = client().pipeline(transaction=False)
    pipe.set(HOT_STATE_SINCE_KEY, now, nx=True)
    pipe.get(HOT_STATE_SINCE_KEY)
    _, since = pipe.execute()
    return now - float(since)


def heartbeats_are_complete() -> bool:
    """Whether a missing heartbeat means a stopped worker. Not until Redis has held its
    data for a whole lost-worker window: heartbeats it lost come back only at each live
    worker's next beat."""
    return hot_state_age() >= settings.WORKER_LOST_AFTER_SECONDS


def heart_is_beating(job_id: uuid.UUID) -> bool:
    """Whether the worker running this job refreshed its heartbeat recently."""
    last = client().get(heartbeat_key(job_id))
    return is_recent(None if last is None else float(last))


def save_principal(principal: Principal) -> None:
    client().set(principal_key(principal.id), principal.model_dump_json(), ex=PRINCIPAL_TTL_SECONDS)


def load_principal(user_id: uuid.UUID) -> Principal | None:
    data = client().get(principal_key(user_id))
    return None if data is None else Principal.model_validate_json(data)


async def load_principal_async(user_id: uuid.UUID) -> Principal | None:
    data = await async_client().get(principal_key(user_id))
    return None if data is None else Principal.model_validate_json(data)


def forget_principal(user_id: uuid.UUID) -> None:
    client().delete(principal_key(user_id))


def publish_invalidation(item: str) -> None:
    client().publish(INVALIDATIONS_CHANNEL, item)


def save_api_key_owner(key_hash: str, owner_id: uuid.UUID) -> None:
    """Cache whose the key is; never over what is there, so never over a revocation."""
    client().set(api_key_key(key_hash), str(owner_id), ex=PRINCIPAL_TTL_SECONDS, nx=True)


def load_api_key_owner(key_hash: str) -> uuid.UUID | Literal["revoked"] | None:
    data = client().get(api_key_key(key_hash))
    if data is None:
        return None
    text = data.decode() if isinstance(data, bytes) else data
    return REVOKED_API_KEY if text == REVOKED_API_KEY else uuid.UUID(text)


def mark_api_key_revoked(key_hash: str) -> None:
    """Overwrite the cached owner, before the key's row is deleted.

    A request that read the row just before the delete then cannot cache the key
    again (save_api_key_owner adds only where nothing is cached), and the mark
    outlives, by far, any request still between its read and its write.
    """
    client().set(api_key_key(key_hash), REVOKED_API_KEY, ex=PRINCIPAL_TTL_SECONDS)


def ended_job_counts() -> dict[tuple[str, str], int]:
    """How many jobs ended, by (tool, state)."""
    counts: dict[bytes, bytes] = client().hgetall(ENDED_JOBS_KEY)  # type: ignore[assignment]
    return {
        tuple(field.decode().rsplit(ENDED_JOBS_SEPARATOR, 1)): int(count)  # type: ignore[misc]
        for field, count in counts.items()
    }


def forget_job(job_id: uuid.UUID) -> None:
    client().delete(job_key(job_id), heartbeat_key(job_id), cancel_key(job_id), log_key(job_id))


def was_sent(job_ids: list[uuid.UUID]) -> list[bool]:
    pipe = client().pipeline(transaction=False)
    for job_id in job_ids:
        pipe.hexists(job_key(job_id), "sent")
    return [bool(found) for found in pipe.execute()]


def request_cancel(job_id: uuid.UUID) -> None:
    client().set(cancel_key(job_id), 1, ex=settings.JOB_SNAPSHOT_TTL_SECONDS)


def cancel_requested(job_id: uuid.UUID) -> bool:
    return bool(client().exists(cancel_key(job_id)))


def append_log(job_id: uuid.UUID, line: str) -> None:
    pipe = client().pipeline(transaction=False)
    pipe.rpush(log_key(job_id), line)
    pipe.expire(log_key(job_id), settings.JOB_SNAPSHOT_TTL_SECONDS)
    pipe.execute()


def read_log(job_id: uuid.UUID, offset: int) -> list[str]:
    lines: list[bytes] = client().lrange(log_key(job_id), offset, -1)  # type: ignore[assignment]
    return [line.decode() for line in lines]
