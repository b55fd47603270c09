"""Jobs whose worker vanished. Running ones: given back to the queue while attempts
remain, else failed as worker_lost. Queued ones whose message a worker took and never
started (it died first): their message goes back to the queue."""

import logging
import time
import uuid
from datetime import timedelta

from sqlalchemy.orm import Session

from app.core.config import settings
from app.crud import job as job_crud
from app.db.base_class import utcnow
from app.models.job import JobState
from app.services import taken_messages
from app.services.job_lifecycle import WORKER_LOST, end_job, requeue_job
from app.worker.redis_db import heartbeats

logger = logging.getLogger(__name__)


def reap_lost_jobs(session: Session) -> int:
    """How many running jobs, silent for WORKER_LOST_AFTER_SECONDS, were given back or
    failed, plus how many queued jobs' messages were given back."""
    return _reap_running_jobs(session) + _give_back_untouched_messages(session)


def _reap_running_jobs(session: Session) -> int:
    if not heartbeats.heartbeats_are_complete():
        logger.info("Redis lost its data lately, or is down: not reaping yet")
        return 0
    started_before = utcnow() - timedelta(seconds=settings.WORKER_LOST_AFTER_SECONDS)
    running = job_crud.list_running_job_ids(session, started_before=started_before)
    return sum(
        _give_back_or_fail(session, job_id)
        for job_id in running
        if not heartbeats.heart_is_beating(job_id)
    )


def _give_back_or_fail(session: Session, job_id: uuid.UUID) -> bool:
    job = job_crud.get_job(session, job_id)
    if job is None or job.state is not JobState.running:
        return False
    if job.attempt >= job.max_attempts:
        return end_job(session, job_id, WORKER_LOST) is not None
    return requeue_job(session, job_id) is not None


def _give_back_untouched_messages(session: Session) -> int:
    """A live worker starts a job it took at once (or at its retry's ETA): one that took
    a job's message WORKER_LOST_AFTER_SECONDS ago and left the job queued is gone. (If it
    is only slow, the job's second delivery is dropped by whichever comes second.)"""
    taken = taken_messages.taken_job_messages(
        due_before=time.time() - settings.WORKER_LOST_AFTER_SECONDS
    )
    if not taken:
        return 0
    queued = job_crud.select_queued_job_ids(session, [message.job_id for message in taken])
    session.commit()
    untouched = [message for message in taken if message.job_id in queued]
    for message in untouched:
        logger.warning("job %s: the worker that took it stopped; giving it back", message.job_id)
    taken_messages.give_back(untouched)
    return len(untouched)
