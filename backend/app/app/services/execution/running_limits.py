"""The running-jobs quota, where a worker takes a job: a user never has more than their
limit of jobs running (MAX_RUNNING_JOBS_PER_USER, or their own set by a superuser);
their further jobs wait queued, offered to the workers again a little later.

A job of a user under no limit costs nothing here: the owner comes in the task's
message, and the limits that superusers set are read once per RUNNING_LIMITS_TTL_SECONDS
per process. A job of a limited user takes its turn under a lock of its owner, held
until its start is committed, so that two workers cannot both take the last slot.
"""

import random
import threading
import time
import uuid
from collections.abc import Callable

from sqlalchemy.orm import Session

from app.core.config import settings
from app.crud import job as job_crud
from app.crud import quota as quota_crud
from app.db.retry import retry_while_unreachable
from app.db.transactions import in_one_transaction
from app.models.job import JobState
from app.schemas.job import JobRead
from app.services import quotas
from app.services.job_lifecycle import offer_again

# How stale a superuser's change of a user's running limit may be in a worker.
RUNNING_LIMITS_TTL_SECONDS = 10.0

_overrides: dict[uuid.UUID, int] = {}
_overrides_read_at = float("-inf")
_overrides_lock = threading.Lock()


def take_within_limit(
    session: Session,
    job_id: uuid.UUID,
    owner_id: uuid.UUID | None,
    take: Callable[[], JobRead | None],
) -> JobRead | None:
    """`take()` when the owner has a slot free (or no limit); else the job stays queued,
    is offered again RUNNING_LIMIT_RETRY_SECONDS later (no attempt used), and None.

    `owner_id` is None for a message sent before owners came with it: no limit then."""
    if owner_id is None:
        return take()
    limit = _running_limit(session, owner_id)
    if not limit:
        return take()
    # Its own session, whose lock lasts until `take` has committed the start.
    with Session(bind=session.get_bind()) as turn:
        running = retry_while_unreachable(
            turn, "running limit", lambda: _lock_and_count(turn, owner_id, job_id)
        )
        if running < limit:
            return take()
    retry_while_unreachable(session, "defer job", lambda: _defer(session, job_id, owner_id))
    return None


def _lock_and_count(turn: Session, owner_id: uuid.UUID, job_id: uuid.UUID) -> int:
    # A transaction, though the worker's sessions commit each statement as they run: the
    # lock is held until it ends.
    in_one_transaction(turn)
    quota_crud.lock_owner_starts(turn, owner_id)
    # After the lock, so that the count sees every start committed under it.
    return quota_crud.count_running_jobs(turn, owner_id, other_than=job_id)


def _defer(session: Session, job_id: uuid.UUID, owner_id: uuid.UUID) -> None:
    row = job_crud.get_job(session, job_id)
    if row is None or row.state is not JobState.queued:
        # Gone or ended: nothing to run. Running: a duplicate delivery of a job that a
        # worker took (or lost; then the reaper decides), as at any take.
        return
    job = JobRead.model_validate(row)
    countdown = settings.RUNNING_LIMIT_RETRY_SECONDS * random.uniform(0.75, 1.25)
    offer_again(job, countdown=countdown, queued_before=quotas.queued_count(session, owner_id))


def _running_limit(session: Session, owner_id: uuid.UUID) -> int:
    """The owner's limit (0: none): their own when a superuser set one, else the setting."""
    global _overrides, _overrides_read_at
    with _overrides_lock:
        if time.monotonic() - _overrides_read_at > RUNNING_LIMITS_TTL_SECONDS:
            _overrides = retry_while_unreachable(
                session, "running limits", lambda: quota_crud.running_limit_overrides(session)
            )
            _overrides_read_at = time.monotonic()
        return _overrides.get(owner_id, settings.MAX_RUNNING_JOBS_PER_USER)
