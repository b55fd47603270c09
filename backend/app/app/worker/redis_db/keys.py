"""Every key and channel name in Redis: the one place that spells them."""

import uuid
from typing import Final

PREFIX: Final = "tooljobs"

# Jobs that ended, by tool and state, since Redis last lost its data.
ENDED_JOBS: Final = f"{PREFIX}:metrics:ended-jobs"
# API processes drop their copies of the principals and ended jobs named here.
INVALIDATIONS_CHANNEL: Final = f"{PREFIX}:invalidations"
# When Redis's current data began (seconds since the epoch); gone with the data.
HOT_STATE_SINCE: Final = f"{PREFIX}:hot-state-since"
RATE_LIMITS_PREFIX: Final = f"{PREFIX}:rate"


def job(job_id: uuid.UUID) -> str:
    return f"{PREFIX}:job:{job_id}"


def job_channel(job_id: uuid.UUID) -> str:
    return f"{PREFIX}:job:{job_id}:events"


def job_of_channel(channel: str) -> uuid.UUID:
    """The job whose channel this is (a name `job_channel` made)."""
    return uuid.UUID(channel.removeprefix(f"{PREFIX}:job:").removesuffix(":events"))


def rate_limit(*identifiers: str) -> str:
    """A caller's fixed-window counter: its limit, then who is counted."""
    return ":".join((RATE_LIMITS_PREFIX, *identifiers))


def heartbeat(job_id: uuid.UUID) -> str:
    return f"{PREFIX}:heartbeat:{job_id}"


def cancel(job_id: uuid.UUID) -> str:
    return f"{PREFIX}:cancel:{job_id}"


def live_log(job_id: uuid.UUID) -> str:
    return f"{PREFIX}:log:{job_id}"


def principal(user_id: uuid.UUID) -> str:
    return f"{PREFIX}:principal:{user_id}"


def api_key_owner(key_hash: str) -> str:
    return f"{PREFIX}:api-key:{key_hash}"


def queued_jobs(owner_id: uuid.UUID) -> str:
    """The ids of the owner's queued jobs, kept by each job's mirror."""
    return f"{PREFIX}:owner:{owner_id}:queued"


def queued_jobs_counted(owner_id: uuid.UUID) -> str:
    """Present while `queued_jobs` is known to be complete (rebuilt from PostgreSQL)."""
    return f"{PREFIX}:owner:{owner_id}:queued-counted"


def every_key_of(job_id: uuid.UUID) -> list[str]:
    return [job(job_id), heartbeat(job_id), cancel(job_id), live_log(job_id)]
