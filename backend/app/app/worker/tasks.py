"""Celery's edge of the app: each task opens the database session for its run and hands
ids to a service; the worker's signals set each pool process up (its own connections,
its tracing) and start each task's log context."""

import logging
import uuid

from celery import Task
from celery.app.task import Context
from celery.signals import (
    beat_init,
    task_prerun,
    task_revoked,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
)

from app.core import log_context, telemetry
from app.core.celery_app import celery_app
from app.core.log_config import configure_logging
from app.db.session import SessionLocal, StatementSessionLocal, autocommit_engine, engine
from app.models.job import JobState
from app.services import webhooks
from app.services.execution import run
from app.services.housekeeping import reaper, resend, retention, schedule_dispatch
from app.tools.registry import log_broken_tools
from app.worker.task_routes import TaskName


@celery_app.task(name=TaskName.RUN_JOB)
def run_job(job_id: str, owner_id: str | None = None) -> None:
    log_context.bind_job(job_id)

    def stop_stuck_tool() -> None:
        # Kills this pool process; the worker then records the job as cancelled (below).
        celery_app.control.revoke(job_id, terminate=True)

    with StatementSessionLocal() as session:
        run.run_job(
            session,
            uuid.UUID(job_id),
            owner_id=None if owner_id is None else uuid.UUID(owner_id),
            stop_stuck_tool=stop_stuck_tool,
        )


@task_revoked.connect
def _record_terminated_job(
    sender: Task[[str], None], request: Context, terminated: bool, **_: object
) -> None:
    if terminated and sender.name == TaskName.RUN_JOB and request.id is not None:
        with SessionLocal() as session:
            run.end_terminated_job(session, uuid.UUID(request.id))


@celery_app.task(
    name=TaskName.DELIVER_WEBHOOK,
    autoretry_for=(webhooks.DeliveryFailed,),
    retry_backoff=2,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
)
def deliver_webhook(job_id: str, state: str | None = None) -> None:
    log_context.bind_job(job_id)
    with SessionLocal() as session:
        webhooks.deliver(session, uuid.UUID(job_id), None if state is None else JobState(state))


@celery_app.task(name=TaskName.REAP_LOST_JOBS)
def reap_lost_jobs() -> int:
    with SessionLocal() as session:
        return reaper.reap_lost_jobs(session)


@celery_app.task(name=TaskName.RESEND_UNSENT_JOBS)
def resend_unsent_jobs() -> int:
    with SessionLocal() as session:
        return resend.resend_unsent_jobs(session)


@celery_app.task(name=TaskName.PURGE_EXPIRED_JOBS)
def purge_expired_jobs() -> int:
    """Retention's run: expired jobs (their count is the result), then abandoned uploads."""
    with SessionLocal() as session:
        purged = retention.purge_expired_jobs(session)
        retention.purge_abandoned_uploads(session)
        return purged


@celery_app.task(name=TaskName.DISPATCH_SCHEDULES)
def dispatch_schedules() -> int:
    with SessionLocal() as session:
        return schedule_dispatch.dispatch_due_schedules(session)


@task_prerun.connect
def _start_log_context(task: Task[..., object], **_: object) -> None:
    """A task's log lines carry the id of the request that queued it, and nothing of the
    task this process ran before."""
    request_id = task.request.get(log_context.REQUEST_ID)
    log_context.start(request_id if isinstance(request_id, str) else None)


@worker_init.connect
def _report_broken_tools(**_: object) -> None:
    log_broken_tools()


@worker_process_init.connect
def _dispose_inherited_connections(**_: object) -> None:
    """A forked worker child must not reuse the connections of its parent."""
    engine.dispose(close=False)
    autocommit_engine.dispose(close=False)


@worker_process_init.connect
def _start_tracing(**_: object) -> None:
    # In each pool process: a tracer provider's export thread does not survive a fork.
    if telemetry.start_tracing("tooljobs-worker", engine, autocommit_engine):
        configure_logging(logging.getLogger().level, trace_ids=True)


@worker_process_shutdown.connect
def _export_last_spans(**_: object) -> None:
    telemetry.stop_tracing()


@beat_init.connect
def _start_beat_tracing(**_: object) -> None:
    if telemetry.start_tracing("tooljobs-beat"):
        configure_logging(logging.getLogger().level, trace_ids=True)
