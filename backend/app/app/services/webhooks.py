"""Telling a job's callback_url that the job ended: a signed POST, from its own task."""

import hashlib
import hmac
import logging
import uuid

from sqlalchemy.orm import Session

from app.core import outbound
from app.core.celery_app import celery_app
from app.core.config import settings
from app.crud import job as job_crud
from app.schemas.job import JobRead
from app.worker.task_routes import TaskName

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Tooljobs-Signature"


class DeliveryFailed(Exception):
    """The endpoint did not take the delivery (no answer, or not 2xx): try again later."""


def schedule_delivery(job_id: uuid.UUID) -> None:
    """Queue the delivery; the worker that ran the job never waits for the endpoint."""
    celery_app.send_task(TaskName.DELIVER_WEBHOOK, args=[str(job_id)])


def signature(body: bytes) -> str:
    digest = hmac.new(settings.WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def deliver(session: Session, job_id: uuid.UUID) -> None:
    """POST the job's snapshot to its callback_url; DeliveryFailed to be tried again.

    A URL the outbound policy refuses (its host resolves to a private address, say) is
    logged and dropped: trying again would only knock on the same door.
    """
    job = job_crud.get_job(session, job_id)
    if job is None or job.callback_url is None:
        return  # deleted since
    url, body = job.callback_url, JobRead.model_validate(job).model_dump_json().encode()
    session.commit()  # the read is over: no connection held while the endpoint answers
    try:
        response = outbound.send(
            "POST",
            url,
            content=body,
            headers={"Content-Type": "application/json", SIGNATURE_HEADER: signature(body)},
        )
    except outbound.OutboundRefused as refused:
        # The reason names the host and its address, never the URL: it may carry a token.
        logger.warning("webhook of job %s not sent: %s", job_id, refused)
        return
    except outbound.OutboundUnreachable as error:
        raise DeliveryFailed(f"job {job_id}'s endpoint did not answer: {error}") from None
    if not response.is_success:
        raise DeliveryFailed(f"job {job_id}'s endpoint answered {response.status_code}")
