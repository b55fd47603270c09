"""The queued-jobs quota: how many jobs a user may have waiting (MAX_QUEUED_JOBS_PER_USER,
or their own limit set by a superuser). The running-jobs quota is the worker's
(app.services.execution.running_limits).

A batch, or a group of single submits (app.services.submit_groups), costs one Redis round
trip for the counts of its owners (app.worker.redis_db.queued_jobs; for a group, the same
trip counts its submits for the rate limit); PostgreSQL is asked only when Redis lost a
count, or every few minutes to put it right.
"""

import logging
import uuid
from collections.abc import Collection, Mapping

from sqlalchemy.orm import Session

from app.core.config import settings
from app.crud import quota as quota_crud
from app.services import rate_limits
from app.services.errors import RateLimited
from app.worker.redis_db import admissions, queued_jobs
from app.worker.redis_db.connection import RedisUnavailable
from app.worker.redis_db.rate_limits import Window

logger = logging.getLogger(__name__)

# Queued jobs leave at the workers' pace, which the API does not know: a polite pause.
QUEUED_LIMIT_RETRY_AFTER_SECONDS = 30


def queued_limit(override: int | None) -> int:
    """The user's limit (0: none) from their own, or else the setting."""
    return settings.MAX_QUEUED_JOBS_PER_USER if override is None else override


def admit_queued(session: Session, owner_id: uuid.UUID, override: int | None, new_jobs: int) -> int:
    """How many jobs the owner has queued, before `new_jobs` more that must all fit
    under their limit; RateLimited naming the limit when they do not. When Redis does not
    answer, nothing is refused and the backlog reads as none (as the rate limits do:
    a lost cache must not stop every submit)."""
    queued = queued_counts(session, [owner_id])[owner_id]
    check_queued(queued, override, new_jobs)
    return queued


def check_queued(queued: int, override: int | None, new_jobs: int) -> None:
    """RateLimited, naming the limit, when `new_jobs` more than the owner's `queued`
    would pass it."""
    limit = queued_limit(override)
    if limit and queued + new_jobs > limit:
        source = "MAX_QUEUED_JOBS_PER_USER" if override is None else "set for you by an admin"
        raise RateLimited(
            f"queued-jobs limit reached: you have {queued} queued jobs and your limit is "
            f"{limit} ({source}); {new_jobs} more would pass it. Retry when some have started.",
            QUEUED_LIMIT_RETRY_AFTER_SECONDS,
        )


def queued_count(session: Session, owner_id: uuid.UUID) -> int:
    """The owner's queued jobs; 0 when Redis does not answer."""
    return queued_counts(session, [owner_id])[owner_id]


def queued_counts(session: Session, owner_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Each owner's queued jobs, in one Redis round trip; 0 for all when Redis does not
    answer."""
    try:
        counted = queued_jobs.counts(owner_ids)
    except RedisUnavailable as error:
        logger.warning("queued-jobs quota not checked: %s", error)
        return dict.fromkeys(owner_ids, 0)
    return _recounted(session, counted)


def counts_for_submits(
    session: Session, submits: Mapping[uuid.UUID, int]
) -> tuple[dict[uuid.UUID, int], dict[uuid.UUID, Window]]:
    """Each owner's queued jobs, and their `submits` counted for the submit rate limit
    (their window after them; none when submits are not limited), in one Redis round
    trip. When Redis does not answer, no jobs are queued and nothing is counted."""
    try:
        counts = admissions.count(
            submits,
            counter=rate_limits.SUBMIT_COUNTER,
            window_seconds=rate_limits.submit_window_seconds(),
        )
    except RedisUnavailable as error:
        logger.warning("queued-jobs quota and submit rate limit not checked: %s", error)
        return dict.fromkeys(submits, 0), {}
    return _recounted(session, counts.queued), counts.submitted


def _recounted(session: Session, counted: Mapping[uuid.UUID, int | None]) -> dict[uuid.UUID, int]:
    """The counts, each that Redis lost rebuilt from PostgreSQL."""
    queued = {}
    for owner_id, count in counted.items():
        if count is None:
            ids = quota_crud.queued_job_ids(session, owner_id)
            queued_jobs.recount(owner_id, ids)
            count = len(ids)
        queued[owner_id] = count
    return queued
