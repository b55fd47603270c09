"""Ended jobs past JOB_RETENTION_DAYS: deleted with their files; a tombstone keeps the id."""

from datetime import timedelta

from sqlalchemy.orm import Session

from app.core.config import settings
from app.crud import job as job_crud
from app.db.base_class import utcnow
from app.services.job_lifecycle import forget_job

PURGE_BATCH = 500


def purge_expired_jobs(session: Session) -> int:
    """How many jobs were purged, in batches of PURGE_BATCH, each its own commit."""
    finished_before = utcnow() - timedelta(days=settings.JOB_RETENTION_DAYS)
    purged = 0
    while True:
        batch = job_crud.purge_ended_jobs(
            session, finished_before=finished_before, limit=PURGE_BATCH
        )
        session.commit()
        for job_id in batch:
            forget_job(job_id)
        purged += len(batch)
        if len(batch) < PURGE_BATCH:
            return purged
