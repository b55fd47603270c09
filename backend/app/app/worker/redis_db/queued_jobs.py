"""How many jobs each user has queued, for the queued-jobs quota and fair dispatch.

A set per owner holds the ids of their queued jobs: each job's mirror adds or removes
its id with its state (app.worker.redis_db.jobs), in the round trip it makes anyway. A
set rather than a counter, because a mirror repeated or lost then never skews the
count for good: the job's next mirror puts its id right. Redis may lose the set at any
time, and a mirror Redis missed leaves it off, so a set is trusted only while its mark
lives: it is rebuilt from PostgreSQL when the mark is missing, and at least every
RECOUNT_SECONDS.
"""

import uuid
from collections.abc import Collection, Sequence

from redis.client import Pipeline

from app.worker.redis_db import keys
from app.worker.redis_db.connection import client, must_answer

RECOUNT_SECONDS = 300
_SADD_CHUNK = 10_000


@must_answer
def counts(owner_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, int | None]:
    """Each owner's queued jobs, in one round trip; None for an owner whose set must be
    rebuilt first (`recount`). RedisUnavailable when Redis does not answer."""
    owners = list(owner_ids)
    pipeline = client().pipeline(transaction=False)
    count_in(pipeline, owners)
    return counts_of(owners, pipeline.execute())


def count_in(pipeline: Pipeline, owners: Sequence[uuid.UUID]) -> None:
    """`counts` within the pipeline: its first 2 * len(owners) answers are for `counts_of`."""
    for owner_id in owners:
        pipeline.exists(keys.queued_jobs_counted(owner_id))
        pipeline.scard(keys.queued_jobs(owner_id))


def counts_of(owners: Sequence[uuid.UUID], answers: Sequence[int]) -> dict[uuid.UUID, int | None]:
    return {
        owner_id: int(queued) if counted else None
        for owner_id, counted, queued in zip(owners, answers[::2], answers[1::2], strict=True)
    }


@must_answer
def recount(owner_id: uuid.UUID, queued_job_ids: Sequence[uuid.UUID]) -> None:
    """Replace the owner's set with the ids PostgreSQL has queued, and trust it again.

    A job that moved between the read of those ids and this write is put right by its
    next mirror, or by the next recount."""
    with client().pipeline(transaction=True) as pipe:
        pipe.delete(keys.queued_jobs(owner_id))
        for first in range(0, len(queued_job_ids), _SADD_CHUNK):
            chunk = queued_job_ids[first : first + _SADD_CHUNK]
            pipe.sadd(keys.queued_jobs(owner_id), *[str(job_id) for job_id in chunk])
        pipe.set(keys.queued_jobs_counted(owner_id), 1, ex=RECOUNT_SECONDS)
        pipe.execute()
