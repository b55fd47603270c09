"""Ended jobs past JOB_RETENTION_DAYS: deleted with their files; a tombstone keeps the id.
Resumable uploads left alone past UPLOAD_RETENTION_DAYS: deleted with their parts."""

from datetime import timedelta

from sqlalchemy.orm import Session

from app.core.config import settings
from app.core.storage import storage
from app.crud import job as job_crud
from app.crud import upload as upload_crud
from app.db.base_class import utcnow
from app.services.job_lifecycle import forget_job
from app.services.storage_keys import upload_prefix

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


def purge_abandoned_uploads(session: Session) -> int:
    """How many uploads were deleted (with their parts), in batches of PURGE_BATCH."""
    updated_before = utcnow() - timedelta(days=settings.UPLOAD_RETENTION_DAYS)
    purged = 0
    while True:
        batch = upload_crud.delete_uploads_left_since(session, updated_before, limit=PURGE_BATCH)
        session.commit()
        for upload_id in batch:
            storage().delete(upload_prefix(upload_id))
        purged += len(batch)
        if len(batch) < PURGE_BATCH:
            return purged
