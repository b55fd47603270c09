"""What a group of submits asks Redis before its jobs are recorded, in one round trip:
each owner's queued jobs (app.worker.redis_db.queued_jobs) and the owner's submits
counted in their rate-limit window (app.worker.redis_db.rate_limits)."""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from app.worker.redis_db import queued_jobs, rate_limits
from app.worker.redis_db.connection import client, must_answer
from app.worker.redis_db.rate_limits import Window


@dataclass(frozen=True)
class Counts:
    # None for an owner whose set of queued jobs must be rebuilt first.
    queued: dict[uuid.UUID, int | None]
    # Empty when submits are not counted.
    submitted: dict[uuid.UUID, Window]


@must_answer
def count(submits: Mapping[uuid.UUID, int], *, counter: str, window_seconds: int | None) -> Counts:
    """The queued jobs of each owner in `submits`, and their submits (as many as
    `submits` says) counted in the owner's window of the rate-limit `counter`, unless
    `window_seconds` is None. RedisUnavailable when Redis does not answer."""
    owners = list(submits)
    pipeline = client().pipeline(transaction=False)
    queued_jobs.count_in(pipeline, owners)
    if window_seconds is not None:
        for owner_id in owners:
            rate_limits.hit_in(
                pipeline, window_seconds, (counter, str(owner_id)), submits[owner_id]
            )
    answers = pipeline.execute()
    queued_answers, submit_answers = answers[: 2 * len(owners)], answers[2 * len(owners) :]
    submitted = (
        {}
        if window_seconds is None
        else {
            owner_id: rate_limits.window_of(answer)
            for owner_id, answer in zip(owners, submit_answers, strict=True)
        }
    )
    return Counts(queued=queued_jobs.counts_of(owners, queued_answers), submitted=submitted)
