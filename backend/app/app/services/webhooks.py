"""Telling a job's callback_url that the job ended, or an OGC job's subscriber that it
started or ended: a signed POST, from its own task."""

import hashlib
import hmac
import json
import logging
import uuid

from sqlalchemy.orm import Session

from app.core import outbound
from app.core.celery_app import celery_app
from app.core.config import settings
from app.crud import artifact as artifact_crud
from app.crud import job as job_crud
from app.crud.job import JobRow
from app.models.job import Job, JobState
from app.schemas.job import JobRead
from app.services.ogc.documents import (
    failure_report,
    results_document,
    status_info,
    subscriber_of,
)
from app.worker.task_routes import TaskName

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Tooljobs-Signature"


class DeliveryFailed(Exception):
    """The endpoint did not take the delivery (no answer, or not 2xx): try again later."""


def schedule_delivery(job_id: uuid.UUID, state: JobState) -> None:
    """Queue the delivery of the job as it is in `state`; the worker that ran the job
    never waits for the endpoint."""
    celery_app.send_task(TaskName.DELIVER_WEBHOOK, args=[str(job_id)], kwargs={"state": state})


def wants_delivery(job: JobRow | Job) -> bool:
    """Whether someone asked to hear of this job in its (new) state."""
    if job.state is JobState.running:
        return "inProgressUri" in subscriber_of(job.ogc_results)
    return job.state.is_terminal and bool(job.callback_url or subscriber_of(job.ogc_results))


def signature(body: bytes) -> str:
    digest = hmac.new(settings.WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def deliver(session: Session, job_id: uuid.UUID, state: JobState | None = None) -> None:
    """POST the job to its callback_url, or its OGC document to its subscriber's URL for
    `state` (None: ended, from a message sent before states came with it);
    DeliveryFailed to be tried again.

    A URL the outbound policy refuses (its host resolves to a private address, say) is
    logged and dropped: trying again would only knock on the same door.
    """
    job = job_crud.get_job(session, job_id)
    if job is None:
        return  # deleted since
    delivery = _delivery(session, job, state)
    session.commit()  # the read is over: no connection held while the endpoint answers
    if delivery is None:
        return
    url, body = delivery
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


def _delivery(session: Session, job: Job, state: JobState | None) -> tuple[str, bytes] | None:
    """The URL and body this delivery POSTs, or None when there is nobody to tell."""
    snapshot = JobRead.model_validate(job)
    subscriber = subscriber_of(job.ogc_results)
    if not subscriber:
        if job.callback_url is None:
            return None
        return job.callback_url, snapshot.model_dump_json().encode()
    asked = job.ogc_results or {}
    ogc_base, api_base = str(asked.get("ogc_base", "")), str(asked.get("api_base", ""))
    if state is JobState.running:
        url = subscriber.get("inProgressUri")
        document: object = status_info(snapshot, ogc_base, api_base).model_dump(mode="json")
    elif snapshot.state is JobState.succeeded:
        url = subscriber.get("successUri")
        artifacts = {a.name: a.content_type for a in artifact_crud.list_artifacts(session, job.id)}
        document = results_document(snapshot, artifacts, asked, api_base)
    else:
        url = subscriber.get("failedUri")
        document = failure_report(snapshot)
    return None if url is None else (url, json.dumps(document).encode())
