"""Running one job on a worker, top to bottom:

    take it        queued -> running; a duplicate delivery, or a lost worker's job, is
                   decided here
    run its tool   in the job's own folder, watched for heartbeats and ignored cancels
    record it      its ending committed with the last progress and its artifacts, or
                   back to queued for another attempt

Each step is one call down (to the job's lifecycle, the runtime, the tool); every
database step is retried through an outage, and safe to run twice.
"""

import logging
import random
import traceback
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.core import log_context
from app.core.config import settings
from app.core.stored_objects import StorageUnavailable
from app.crud import job as job_crud
from app.db.base_class import utcnow
from app.db.retry import retry_while_unreachable
from app.db.transactions import in_one_transaction
from app.models.job import ErrorType, Job, JobError, JobState
from app.schemas.job import JobRead
from app.services.execution import running_limits
from app.services.execution.runtime import WorkerRuntime, job_folder
from app.services.execution.start_mirror import StartMirror
from app.services.execution.watchdog import watchdog
from app.services.job_lifecycle import (
    WORKER_LOST,
    Cancelled,
    Ending,
    Failed,
    Succeeded,
    end_job,
    requeue_job,
    start_job,
)
from app.tools.base import ToolError, ToolTimeout
from app.tools.context import JobCancelled, JobContext
from app.tools.registry import UnknownToolError, get_tool
from app.worker.redis_db import heartbeats

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryLater:
    """A declared transient error with attempts left: back to the queue."""

    message: str


def run_job(
    session: Session,
    job_id: uuid.UUID,
    *,
    owner_id: uuid.UUID | None = None,
    stop_stuck_tool: Callable[[], None],
) -> None:
    """Run the job's tool once and record how it ended. Safe to call twice for one job.

    `stop_stuck_tool` is called from another thread when the job was cancelled and the
    tool did not stop within CANCEL_GRACE_SECONDS. `owner_id` (from the task's message)
    applies the owner's running limit.
    """
    job = running_limits.take_within_limit(
        session,
        job_id,
        owner_id,
        lambda: retry_while_unreachable(session, "start job", lambda: _take(session, job_id)),
    )
    if job is None:
        return
    log_context.bind_job(job_id, tool=job.tool, user_id=job.owner_id)
    # The heart starts beating with the start's mirror, sent once the job has run a
    # moment; the reaper leaves a job alone for WORKER_LOST_AFTER_SECONDS after its start,
    # so it never sees it without a heart.
    start = StartMirror(job)
    with job_folder(job_id) as folder, ExitStack() as cleanup:
        runtime = WorkerRuntime(session, job_id, folder / "log.txt", cleanup, start)
        ctx = JobContext(job_id, folder / "work", runtime)
        with watchdog().watching(job_id, stop_stuck_tool, start):
            outcome = _run_tool(job, ctx)
        runtime.keep_log()
    # The heart beats on until the end is recorded, however long the database is away,
    # so that the reaper does not take a finished job for a lost one.
    with watchdog().watching(job_id, stop_stuck_tool=None, start=start):
        retry_while_unreachable(session, "end job", lambda: _record(session, job, ctx, outcome))


def end_terminated_job(session: Session, job_id: uuid.UUID) -> None:
    """A job whose tool was terminated after a cancel: record it as cancelled."""
    retry_while_unreachable(session, "end job", lambda: end_job(session, job_id, Cancelled()))


def _take(session: Session, job_id: uuid.UUID) -> JobRead | None:
    """queued -> running with attempt + 1; None when this delivery must not run the job."""
    # Most deliveries find the job queued: one statement takes it.
    return start_job(session, job_id, [JobState.queued]) or _take_again(session, job_id)


def _take_again(session: Session, job_id: uuid.UUID) -> JobRead | None:
    """A job not queued: a duplicate delivery, a lost worker's job handed back by the
    broker, or a job that ended already."""
    job = job_crud.get_job(session, job_id)
    if job is None or job.state.is_terminal:
        return None  # deleted, cancelled, or finished by an earlier delivery
    if job.state is JobState.running:
        # Beating its heart and reading the previous beat is one step, so that of two
        # deliveries at once only one finds the heart silent.
        previous_beat = heartbeats.beat_heart(job_id)
        if _may_be_running(job, previous_beat):
            # A delivery that does not run the job must not keep a dead worker's job
            # alive: the reaper decides by the heart as that worker left it.
            heartbeats.restore_heartbeat(job_id, previous_beat)
            return None
        if job.attempt >= job.max_attempts:
            end_job(session, job_id, WORKER_LOST)
            return None
    return start_job(session, job_id, [JobState.queued, JobState.running])


def _may_be_running(job: Job, previous_beat: float | None) -> bool:
    """Whether the worker that took this running job may still run it: its heart beat
    lately; or it took the job too lately to have beaten it yet (its first beat goes
    with the mirror of the start, and the reaper waits as long); or Redis lost the
    beats lately."""
    lost_after = timedelta(seconds=settings.WORKER_LOST_AFTER_SECONDS)
    started_lately = job.started_at is not None and utcnow() - job.started_at < lost_after
    return (
        heartbeats.is_recent(previous_beat)
        or started_lately
        or not heartbeats.heartbeats_are_complete()
    )


def _run_tool(job: JobRead, ctx: JobContext) -> Ending | RetryLater:
    try:
        tool_class = get_tool(job.tool)
    except UnknownToolError:
        return _failed(ErrorType.system_error, f"tool {job.tool!r} is not on this worker")
    try:
        tool = tool_class()
        inputs = tool.inputs_model.model_validate(job.inputs)
        result = tool.run(inputs, ctx)
    except (SoftTimeLimitExceeded, ToolTimeout):
        return _failed(ErrorType.timeout, "the tool ran past its time limit")
    except JobCancelled:
        return Cancelled()
    except ToolError as error:
        return _failed(ErrorType.tool_error, str(error))
    except StorageUnavailable as error:
        # The store's outage (staging an input, keeping an artifact), not the tool's fault.
        if job.attempt < job.max_attempts:
            return RetryLater(f"retrying after {error!r}")
        return _failed(ErrorType.system_error, "the storage could not be reached")
    except Exception as error:
        if isinstance(error, tool_class.transient_errors) and job.attempt < job.max_attempts:
            return RetryLater(f"retrying after {error!r}")
        logger.exception("job %s: tool %s raised", job.id, job.tool)
        return Failed(
            JobError(
                type=ErrorType.tool_error,
                message=f"{type(error).__name__}: {error}",
                traceback="".join(traceback.format_exception(error)[-20:]),
            )
        )
    try:
        outputs = tool.outputs_model.model_validate(result, from_attributes=True)
    except ValidationError as error:
        return _failed(ErrorType.invalid_output, str(error))
    return Succeeded(outputs.model_dump(mode="json"))


def _failed(error_type: ErrorType, message: str) -> Failed:
    return Failed(JobError(type=error_type, message=message))


def _record(session: Session, job: JobRead, ctx: JobContext, outcome: Ending | RetryLater) -> None:
    if isinstance(outcome, RetryLater):
        backoff = settings.RETRY_BACKOFF_SECONDS * 2 ** (job.attempt - 1)
        countdown = min(backoff, settings.RETRY_BACKOFF_MAX_SECONDS) * random.uniform(0.5, 1.0)
        requeue_job(session, job.id, message=outcome.message, countdown=countdown)
        return
    if ctx.artifacts:
        # The ending and the artifacts' rows stand or fall together.
        in_one_transaction(session)
    end_job(
        session,
        job.id,
        outcome,
        progress=1.0 if isinstance(outcome, Succeeded) else ctx.progress_fraction,
        message=ctx.message,
        artifacts=list(ctx.artifacts.values()),
    )
