"""Celery tasks: thin shells that pass ids to the services."""

import uuid

from app.core.celery_app import RUN_JOB_TASK, celery_app
from app.services import execution


@celery_app.task(name=RUN_JOB_TASK)
def run_job(job_id: str) -> None:
    execution.execute_job(uuid.UUID(job_id))


@celery_app.task(name="app.worker.tasks.reap_lost_jobs")
def reap_lost_jobs() -> int:
    return execution.reap_lost_jobs()
