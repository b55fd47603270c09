"""Queued jobs the broker never got (the API stopped between its commit and its send)."""

import logging
from datetime import timedelta

from sqlalchemy.orm import Session

from app.core.config import settings
from app.crud import job as job_crud
from app.db.base_class import utcnow
from app.schemas.job import JobRead
from app.services.job_lifecycle import send_job
from app.worker.redis_db import jobs as hot_jobs

logger = logging.getLogger(__name__)


def resend_unsent_jobs(session: Session) -> int:
    """How many queued jobs older than RESEND_QUEUED_AFTER_SECONDS were sent again."""
    created_before = utcnow() - timedelta(seconds=settings.RESEND_QUEUED_AFTER_SECONDS)
    queued = list(job_crud.list_queued_job_ids(session, created_before=created_before))
    unsent = [
        job_id for job_id, sent in zip(queued, hot_jobs.was_sent(queued), strict=True) if not sent
    ]
    for job_id in unsent:
        job = job_crud.get_job(session, job_id)
        if job is not None:
            logger.warning("job %s was never sent to the broker: sending it", job.id)
            send_job(JobRead.model_validate(job))
    return len(unsent)
