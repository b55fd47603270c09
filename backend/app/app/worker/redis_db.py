"""The hot state in Redis: job snapshots, progress ticks, heartbeats and cached principals.

Redis may lose everything at any moment: PostgreSQL is the record and every reader
falls back to it. A job's hash holds `snapshot` (the JSON of JobRead, written at each
state transition) and `progress`/`message` (ticks from the running tool, overlaid on
the snapshot while it is running).
"""

import json
import time
import uuid
from functools import cache

import redis

from app.core.config import settings
from app.models.job import JobState
from app.schemas.job import JobRead
from app.schemas.user import Principal

PREFIX = "tooljobs"
PRINCIPAL_TTL_SECONDS = 300


def job_key(job_id: uuid.UUID) -> str:
    return f"{PREFIX}:job:{job_id}"


def job_channel(job_id: uuid.UUID) -> str:
    return f"{PREFIX}:job:{job_id}:events"


def heartbeat_key(job_id: uuid.UUID) -> str:
    return f"{PREFIX}:heartbeat:{job_id}"


def principal_key(user_id: uuid.UUID) -> str:
    return f"{PREFIX}:principal:{user_id}"


@cache
def client() -> "redis.Redis[bytes]":
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, health_check_interval=30)


def save_job(job: JobRead, *, publish: bool = True) -> None:
    """Store the snapshot of a state transition and tell the job's subscribers."""
    data = job.model_dump_json()
    key = job_key(job.id)
    pipe = client().pipeline(transaction=True)
    pipe.hset(key, mapping={"snapshot": data})
    pipe.hdel(key, "progress", "message")
    pipe.expire(key, settings.JOB_SNAPSHOT_TTL_SECONDS)
    if publish:
        pipe.publish(job_channel(job.id), data)
    pipe.execute()


def load_job(job_id: uuid.UUID) -> JobRead | None:
    snapshot, progress, message = client().hmget(
        job_key(job_id), ["snapshot", "progress", "message"]
    )
    if snapshot is None:
        return None
    job = JobRead.model_validate_json(snapshot)
    if job.state is JobState.running and progress is not None:
        job.progress = float(progress)
        job.message = message.decode() if message else job.message
    return job


def tick_job(job_id: uuid.UUID, progress: float, message: str | None) -> None:
    """A progress report: Redis only; the last one is flushed to PostgreSQL at the end."""
    key = job_key(job_id)
    mapping: dict[str, str | float] = {"progress": progress}
    if message is not None:
        mapping["message"] = message
    pipe = client().pipeline(transaction=False)
    pipe.hset(key, mapping=mapping)
    pipe.expire(key, settings.JOB_SNAPSHOT_TTL_SECONDS)
    pipe.publish(job_channel(job_id), json.dumps({"progress": progress, "message": message}))
    pipe.execute()


def beat_heart(job_id: uuid.UUID) -> None:
    client().set(heartbeat_key(job_id), time.time(), ex=int(settings.WORKER_LOST_AFTER_SECONDS) + 1)


def heart_is_beating(job_id: uuid.UUID) -> bool:
    """Whether the worker running this job refreshed its heartbeat recently."""
    last = client().get(heartbeat_key(job_id))
    return last is not None and time.time() - float(last) < settings.WORKER_LOST_AFTER_SECONDS


def stop_heart(job_id: uuid.UUID) -> None:
    client().delete(heartbeat_key(job_id))


def save_principal(principal: Principal) -> None:
    client().set(
        principal_key(principal.id), principal.model_dump_json(), ex=PRINCIPAL_TTL_SECONDS
    )


def load_principal(user_id: uuid.UUID) -> Principal | None:
    data = client().get(principal_key(user_id))
    return None if data is None else Principal.model_validate_json(data)


def forget_principal(user_id: uuid.UUID) -> None:
    client().delete(principal_key(user_id))
