"""Heartbeats of running jobs, and whether a missing one means a stopped worker."""

import time
import uuid

from app.core.config import settings
from app.worker.redis_db import keys
from app.worker.redis_db.connection import best_effort, client


@best_effort(None)
def beat_heart(job_id: uuid.UUID) -> float | None:
    """Refresh the job's heartbeat; the one it replaced (seconds since the epoch), or
    None when there was none or Redis does not answer."""
    previous = client().set(keys.heartbeat(job_id), time.time(), ex=lifetime_seconds(), get=True)
    return None if previous is None else float(previous)


@best_effort(None)
def restore_heartbeat(job_id: uuid.UUID, beat: float | None) -> None:
    """Put back the heartbeat that `beat_heart` replaced (None: there was none), with
    the time it had left."""
    key = keys.heartbeat(job_id)
    if beat is not None:
        left = beat + lifetime_seconds() - time.time()
        if left > 0:
            client().set(key, beat, px=int(left * 1000))
            return
    client().delete(key)


def is_recent(beat: float | None) -> bool:
    return beat is not None and time.time() - beat < settings.WORKER_LOST_AFTER_SECONDS


@best_effort(False)
def heartbeats_are_complete() -> bool:
    """Whether a missing heartbeat means a stopped worker. Not until Redis has held its
    data for a whole lost-worker window (heartbeats it lost come back only at each live
    worker's next beat), and not while Redis does not answer."""
    return _hot_state_age() >= settings.WORKER_LOST_AFTER_SECONDS


@best_effort(True)
def heart_is_beating(job_id: uuid.UUID) -> bool:
    """Whether the worker running this job refreshed its heartbeat recently; True when
    Redis does not answer (nothing is taken for lost on no evidence)."""
    last = client().get(keys.heartbeat(job_id))
    return is_recent(None if last is None else float(last))


def _hot_state_age() -> float:
    """Seconds Redis has held its current data. The first call after Redis lost it (a
    restart without persistence, a flush) starts the clock, so the age is never more
    than the truth."""
    now = time.time()
    pipe = client().pipeline(transaction=False)
    pipe.set(keys.HOT_STATE_SINCE, now, nx=True)
    pipe.get(keys.HOT_STATE_SINCE)
    _, since = pipe.execute()
    return now - float(since)


def lifetime_seconds() -> int:
    """Seconds a heartbeat key lives: a little longer than the reaper waits for one."""
    return int(settings.WORKER_LOST_AFTER_SECONDS) + 1
