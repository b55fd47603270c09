"""Telling a job's callback_url that the job ended: a signed POST, from its own task."""

import hashlib
import hmac
import uuid

import httpx
from sqlalchemy.orm import Session

from app.core.celery_app import celery_app
from app.core.config import settings
from app.crud import job as job_crud
from app.schemas.job import JobRead
from app.worker.task_routes import TaskName

SIGNATURE_HEADER = "X-Tooljobs-Signature"
TIMEOUT_SECONDS = 5


class WebhookRejected(Exception):
    """The endpoint answered, but not with 2xx: try again later."""


def schedule_delivery(job_id: uuid.UUID) -> None:
    """Queue the delivery; the worker that ran the job never waits for the endpoint."""
    celery_app.send_task(TaskName.DELIVER_WEBHOOK, args=[str(job_id)])


def signature(body: bytes) -> str:
    digest = hmac.new(settings.WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def deliver(session: Session, job_id: uuid.UUID) -> None:
    """POST the job's snapshot to its callback_url; raise to be tried again."""
    job = job_crud.get_job(session, job_id)
    if job is None or job.callback_url is None:
        return  # deleted since
    url, body = job.callback_url, JobRead.model_validate(job).model_dump_json().encode()
    session.commit()  # the read is over: no connection held while the endpoint answers
    response = httpx.post(
        url,
        content=body,
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: signature(body)},
        timeout=TIMEOUT_SECONDS,
    )
    if not response.is_success:
        raise WebhookRejected(f"{url} answered {response.status_code}")
