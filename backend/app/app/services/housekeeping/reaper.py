"""Running jobs whose worker vanished: given back to the queue while attempts remain,
else failed as worker_lost."""

import logging
import uuid
from datetime import timedelta

from sqlalchemy.orm import Session

from app.core.config import settings
from app.crud import job as job_crud
from app.db.base_class import utcnow
from app.models.job import JobState
from app.services.job_lifecycle import WORKER_LOST, end_job, requeue_job
from app.worker.redis_db import heartbeats

logger = logging.getLogger(__name__)


def reap_lost_jobs(session: Session) -> int:
    """How many running jobs, silent for WORKER_LOST_AFTER_SECONDS, were given back or failed."""
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
