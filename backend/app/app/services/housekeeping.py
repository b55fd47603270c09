"""What beat runs now and then: jobs whose worker vanished, jobs the broker never got,
and jobs past their retention."""

import logging
import uuid
from datetime import timedelta

from app.core.config import settings
from app.core.storage import storage
from app.crud import job as job_crud
from app.db.base_class import utcnow
from app.db.session import SessionLocal
from app.models.job import JobState
from app.schemas.job import JobRead
from app.services.execution import WORKER_LOST, end_job
from app.services.hot_state import forget_job
from app.services.jobs import send_job
from app.services.storage_keys import job_prefix
from app.worker import redis_db

logger = logging.getLogger(__name__)

PURGE_BATCH = 500


def reap_lost_jobs() -> int:
    """Running jobs whose worker stopped its heartbeat: run again if attempts remain, else fail."""
    if not redis_db.heartbeats_are_complete():
        logger.info("Redis lost its data less than a heartbeat window ago: not reaping yet")
        return 0
    started_before = utcnow() - timedelta(seconds=settings.WORKER_LOST_AFTER_SECONDS)
    with SessionLocal() as session:
        running = job_crud.list_running_job_ids(session, started_before=started_before)
    return sum(
        _give_back_or_fail_lost(job_id)
        for job_id in running
        if not redis_db.heart_is_beating(job_id)
    )


def resend_unsent_jobs() -> int:
    """Queued jobs the broker never got (the API stopped between commit and send)."""
    created_before = utcnow() - timedelta(seconds=settings.RESEND_QUEUED_AFTER_SECONDS)
    with SessionLocal() as session:
        queued = list(job_crud.list_queued_job_ids(session, created_before=created_before))
        unsent = [
            job_id
            for job_id, sent in zip(queued, redis_db.was_sent(queued), strict=True)
            if not sent
        ]
        jobs = [job_crud.get_job(session, job_id) for job_id in unsent]
    for job in jobs:
        if job is not None:
            logger.warning("job %s was never sent to the broker: sending it", job.id)
            send_job(JobRead.model_validate(job))
    return len(unsent)


def purge_expired_jobs() -> int:
    """Terminal jobs past JOB_RETENTION_DAYS go, with their files; a tombstone stays."""
    finished_before = utcnow() - timedelta(days=settings.JOB_RETENTION_DAYS)
    purged = 0
    while True:
        with SessionLocal() as session:
            batch = job_crud.purge_ended_jobs(
                session, finished_before=finished_before, limit=PURGE_BATCH
            )
            session.commit()
        for job_id in batch:
            forget_job(job_id)
            storage().delete(job_prefix(job_id))
        purged += len(batch)
        if len(batch) < PURGE_BATCH:
            return purged


def _give_back_or_fail_lost(job_id: uuid.UUID) -> bool:
    with SessionLocal() as session:
        job = job_crud.get_job(session, job_id)
        if job is None or job.state is not JobState.running:
            return False
        if job.attempt >= job.max_attempts:
            return end_job(session, job_id, WORKER_LOST) is not None
        requeued = job_crud.transition_job(
            session, job_id, [JobState.running], state=JobState.queued, updated_at=utcnow()
        )
        session.commit()
    if requeued is None:
        return False
    send_job(JobRead.model_validate(requeued))
    return True
