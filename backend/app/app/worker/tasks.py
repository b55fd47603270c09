"""Celery tasks: thin shells that pass ids to the services."""

import uuid
from typing import Any

import httpx
from celery.signals import task_revoked

from app.core.celery_app import DELIVER_WEBHOOK_TASK, RUN_JOB_TASK, celery_app
from app.services import execution, housekeeping, schedules, webhooks


@celery_app.task(name=RUN_JOB_TASK)
def run_job(job_id: str) -> None:
    def stop_stuck_tool() -> None:
        # Kills this pool process; the worker then records the job as cancelled (below).
        celery_app.control.revoke(job_id, terminate=True)

    execution.execute_job(uuid.UUID(job_id), stop_stuck_tool=stop_stuck_tool)


@task_revoked.connect
def _record_terminated_job(request: Any, terminated: bool, **_: Any) -> None:
    if terminated and request.task == RUN_JOB_TASK:
        execution.end_terminated_job(uuid.UUID(request.id))


@celery_app.task(
    name=DELIVER_WEBHOOK_TASK,
    autoretry_for=(httpx.HTTPError, webhooks.WebhookRejected),
    retry_backoff=2,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
)
def deliver_webhook(job_id: str) -> None:
    webhooks.deliver(uuid.UUID(job_id))


@celery_app.task(name="app.worker.tasks.reap_lost_jobs")
def reap_lost_jobs() -> int:
    return housekeeping.reap_lost_jobs()


@celery_app.task(name="app.worker.tasks.resend_unsent_jobs")
def resend_unsent_jobs() -> int:
    return housekeeping.resend_unsent_jobs()


@celery_app.task(name="app.worker.tasks.purge_expired_jobs")
def purge_expired_jobs() -> int:
    return housekeeping.purge_expired_jobs()


@celery_app.task(name="app.worker.tasks.dispatch_schedules")
def dispatch_schedules() -> int:
    return schedules.dispatch_due_schedules()
