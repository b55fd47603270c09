"""A job's hot state: its snapshot, progress ticks, live log, cancel flag and sent mark.

A job's hash holds `snapshot` (the JSON of JobRead, written at each state transition,
with `owner`, `state` and `version` beside it) and `progress`/`message` (ticks from the
running tool, overlaid on the snapshot while it runs).
"""

import json
import time
import uuid
from collections.abc import Sequence
from functools import cache

from redis.commands.core import Script

from app.core.config import settings
from app.models.job import JobState
from app.schemas.job import JobRead
from app.worker.redis_db import heartbeats, keys
from app.worker.redis_db.connection import (
    async_client,
    best_effort,
    best_effort_async,
    client,
    must_answer_async,
)

ENDED_JOBS_SEPARATOR = "|"  # never in a state, so the last one in a field splits it

# Writes a snapshot only when it is not older than the stored one: a reader re-filling
# Redis from PostgreSQL must never overwrite a newer transition mirrored by a worker.
# `owner` and `state` beside the snapshot let a reader authorise without parsing it. An
# ended job's live log goes with its last transition: readers then use the stored log.
# The move of a stored job from a live state to its end is counted for /metrics. A
# worker that just took the job starts its heartbeat in the same trip. The owner's set
# of queued jobs (app.worker.redis_db.queued_jobs) follows the state: adding or
# removing an id twice changes nothing, so a repeated mirror cannot skew it. The sent mark
# is the broker's news, not the snapshot's: a worker may take the job and mirror it before
# the sender's older snapshot arrives, and the mark still belongs on it.
_SAVE_NEWER_SNAPSHOT = """
if ARGV[10] ~= '' then redis.call('SET', KEYS[5], ARGV[10], 'EX', ARGV[11]) end
local stored = redis.call('HMGET', KEYS[1], 'version', 'state')
if ARGV[6] == '1' then redis.call('HSET', KEYS[1], 'sent', 1) end
if stored[1] and tonumber(stored[1]) > tonumber(ARGV[2]) then return 0 end
if ARGV[7] == 'queued' then redis.call('SADD', KEYS[6], ARGV[12])
else redis.call('SREM', KEYS[6], ARGV[12]) end
redis.call('HSET', KEYS[1], 'snapshot', ARGV[1], 'version', ARGV[2], 'owner', ARGV[4],
  'state', ARGV[7])
redis.call('HDEL', KEYS[1], 'progress', 'message')
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


@best_effort(False)
def save_job(
    job: JobRead, *, publish: bool = True, sent: bool = False, start_heartbeat: bool = False
) -> bool:
    """Mirror a committed transition and tell the job's subscribers; `sent` also marks
    that the broker has the job's task, so the re-send sweep leaves it alone;
    `start_heartbeat` beats the job's heart (heartbeats.beat_heart) in the same trip.

    False when Redis already holds a newer snapshot of this job, or does not answer.
    """
    snapshot_keys, snapshot_args = _snapshot_of(
        job, publish=publish, sent=sent, start_heartbeat=start_heartbeat
    )
    written = _save_newer_snapshot()(keys=snapshot_keys, args=snapshot_args)
    return bool(written)


@best_effort(None)
def save_new_jobs(jobs: Sequence[JobRead]) -> None:
    """save_job(sent=True) for jobs just queued together, in one round trip."""
    save = _save_newer_snapshot()
    with client().pipeline(transaction=False) as pipeline:
        for job in jobs:
            snapshot_keys, snapshot_args = _snapshot_of(job, publish=True, sent=True)
            save(keys=snapshot_keys, args=snapshot_args, client=pipeline)
        pipeline.execute()


def _snapshot_of(
    job: JobRead, *, publish: bool, sent: bool, start_heartbeat: bool = False
) -> tuple[list[str], list[str | float]]:
    """The keys and arguments of _SAVE_NEWER_SNAPSHOT for this job."""
    return (
        [
            *[keys.job(job.id), keys.job_channel(job.id), keys.live_log(job.id)],
            *[keys.ENDED_JOBS, keys.heartbeat(job.id), keys.queued_jobs(job.owner_id)],
        ],
        [
            job.model_dump_json(),
            job.updated_at.timestamp(),
            settings.JOB_SNAPSHOT_TTL_SECONDS,
            str(job.owner_id),
            int(publish),
            int(sent),
            job.state.value,
            int(job.state.is_terminal),
            f"{job.tool}{ENDED_JOBS_SEPARATOR}{job.state.value}",
            time.time() if start_heartbeat else "",
            heartbeats.lifetime_seconds(),
            str(job.id),
        ],
    )


@best_effort(None)
def load_job(job_id: uuid.UUID) -> JobRead | None:
    """The job as clients see it; None when Redis does not hold it, or does not answer."""
    snapshot, progress, message = client().hmget(
        keys.job(job_id), ["snapshot", "progress", "message"]
    )
    if snapshot is None:
        return None
    job = JobRead.model_validate_json(snapshot)
    if job.state is JobState.running and progress is not None:
        job.progress = float(progress)
        job.message = message.decode() if isinstance(message, bytes) else job.message
    return job


@best_effort_async(None)
async def load_job_json(job_id: uuid.UUID) -> tuple[uuid.UUID, JobState, bytes] | None:
    """The job's owner, state and JSON as clients see it, without parsing the JSON
    unless a progress tick has to be overlaid; None as for `load_job`."""
    fields: list[bytes | None] = await async_client().hmget(  # type: ignore[assignment]
        keys.job(job_id), ["snapshot", "owner", "state", "progress", "message"]
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


@must_answer_async
async def load_snapshot(job_id: uuid.UUID) -> JobRead | None:
    """The last transition's snapshot, without ticks; None when Redis does not hold it.
    RedisUnavailable when Redis does not answer: a waiter then stops waiting."""
    stored: bytes | None = await async_client().hget(keys.job(job_id), "snapshot")  # type: ignore[assignment]
    return None if stored is None else JobRead.model_validate_json(stored)


@best_effort(None)
def tick_job(job_id: uuid.UUID, progress: float, message: str | None) -> None:
    """A progress report: Redis only; the last one is flushed to PostgreSQL at the end."""
    key = keys.job(job_id)
    pipe = client().pipeline(transaction=False)
    pipe.hset(key, "progress", progress)
    if message is not None:
        pipe.hset(key, "message", message)
    pipe.expire(key, settings.JOB_SNAPSHOT_TTL_SECONDS)
    pipe.publish(keys.job_channel(job_id), json.dumps({"progress": progress, "message": message}))
    pipe.execute()


@best_effort(None)
def append_log(job_id: uuid.UUID, line: str) -> None:
    """A line of a running job's live log (the worker keeps the whole log in storage)."""
    pipe = client().pipeline(transaction=False)
    pipe.rpush(keys.live_log(job_id), line)
    pipe.expire(keys.live_log(job_id), settings.JOB_SNAPSHOT_TTL_SECONDS)
    pipe.execute()


@best_effort([])
def read_log(job_id: uuid.UUID, offset: int) -> list[str]:
    """A running job's log lines from `offset` on; none when Redis does not answer."""
    lines: list[bytes] = client().lrange(keys.live_log(job_id), offset, -1)  # type: ignore[assignment]
    return [line.decode() for line in lines]


@best_effort(None)
def request_cancel(job_id: uuid.UUID) -> None:
    """Raise the flag the running tool and its watchdog look at (the row says it too)."""
    client().set(keys.cancel(job_id), 1, ex=settings.JOB_SNAPSHOT_TTL_SECONDS)


@best_effort(False)
def cancel_requested(job_id: uuid.UUID) -> bool:
    """Whether the job's cancel flag is up; False when Redis does not answer."""
    return bool(client().exists(keys.cancel(job_id)))


@best_effort(None)
def forget_job(job_id: uuid.UUID) -> None:
    client().delete(*keys.every_key_of(job_id))


def was_sent(job_ids: list[uuid.UUID]) -> list[bool]:
    """Whether the broker got each job's task; all True when Redis does not answer (the
    re-send sweep then sends nothing rather than a duplicate of each)."""
    return _were_sent(job_ids) or [True] * len(job_ids)


@best_effort(None)
def _were_sent(job_ids: list[uuid.UUID]) -> list[bool]:
    pipe = client().pipeline(transaction=False)
    for job_id in job_ids:
        pipe.hexists(keys.job(job_id), "sent")
    return [bool(found) for found in pipe.execute()]


@best_effort({})
def ended_job_counts() -> dict[tuple[str, str], int]:
    """How many jobs ended, by (tool, state); none when Redis does not answer."""
    counts: dict[bytes, bytes] = client().hgetall(keys.ENDED_JOBS)  # type: ignore[assignment]
    found: dict[tuple[str, str], int] = {}
    for field, count in counts.items():
        tool, state = field.decode().rsplit(ENDED_JOBS_SEPARATOR, 1)
        found[tool, state] = int(count)
    return found
