"""Use-cases of jobs as the worker sees them: run one, and reap those whose worker vanished."""

import logging
import shutil
import tempfile
import threading
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from pathlib import Path
from typing import Any

import redis
from celery.exceptions import SoftTimeLimitExceeded
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.core.config import settings
from app.crud import job as job_crud
from app.db.base_class import utcnow
from app.db.session import SessionLocal
from app.models.job import TERMINAL_STATES, ErrorType, Job, JobState
from app.schemas.job import JobRead
from app.services.jobs import mirror_job, send_job
from app.tools.base import ToolError
from app.tools.context import JobCancelled, JobContext
from app.tools.registry import UnknownToolError, get_tool
from app.worker import redis_db

logger = logging.getLogger(__name__)


def execute_job(job_id: uuid.UUID) -> None:
    """Run the job's tool once and record how it ended. Safe to call twice for one job."""
    job = _start(job_id)
    if job is None:
        return
    with _heartbeat(job_id), _workdir(job_id) as workdir:
        ctx = JobContext(
            str(job_id), workdir, lambda fraction, message: _tick(job_id, fraction, message)
        )
        ending = _run_tool(job, ctx)
    _finish(job_id, progress=ctx.progress_fraction, message=ctx.message, **ending)


def reap_lost_jobs() -> int:
    """Running jobs whose worker stopped its heartbeat: run again if attempts remain, else fail."""
    started_before = utcnow() - timedelta(seconds=settings.WORKER_LOST_AFTER_SECONDS)
    with SessionLocal() as session:
        running = job_crud.list_running_job_ids(session, started_before=started_before)
    reaped = 0
    for job_id in running:
        if redis_db.heart_is_beating(job_id):
            continue
        if _give_back_or_fail_lost(job_id):
            reaped += 1
    return reaped


def _start(job_id: uuid.UUID) -> JobRead | None:
    """queued -> running with attempt + 1; None when this delivery must not run the job."""
    with SessionLocal() as session:
        job = job_crud.get_job(session, job_id)
        if job is None or job.state in TERMINAL_STATES:
            return None  # deleted, cancelled, or finished by an earlier delivery
        if job.state is JobState.running:
            if redis_db.heart_is_beating(job_id):
                return None  # a live worker has it: this is a duplicate delivery
            if job.attempt >= job.max_attempts:
                _fail_lost(session, job_id)
                return None
        # Beat before the row says running, so the reaper never sees running without a heart.
        _beat_heart(job_id)
        now = utcnow()
        started = job_crud.transition_job(
            session,
            job_id,
            [JobState.queued, JobState.running],
            state=JobState.running,
            attempt=Job.attempt + 1,
            started_at=now,
            updated_at=now,
            progress=0.0,
            message=None,
        )
        session.commit()
    if started is None:
        return None
    snapshot = JobRead.model_validate(started)
    mirror_job(snapshot)
    return snapshot


def _run_tool(job: JobRead, ctx: JobContext) -> dict[str, Any]:
    """How the job ended, as the values of its final transition."""
    try:
        tool = get_tool(job.tool)()
        inputs = tool.inputs_model.model_validate(job.inputs)
        result = tool.run(inputs, ctx)
    except UnknownToolError:
        return _failure(
            ErrorType.system_error, f"tool {job.tool!r} is not installed on this worker"
        )
    except SoftTimeLimitExceeded:
        return _failure(ErrorType.timeout, "the tool ran past its time limit")
    except JobCancelled:
        return {"state": JobState.cancelled}
    except ToolError as error:
        return _failure(ErrorType.tool_error, str(error))
    except Exception as error:
        logger.exception("job %s: tool %s raised", job.id, job.tool)
        return _failure(
            ErrorType.tool_error,
            f"{type(error).__name__}: {error}",
            traceback="".join(traceback.format_exception(error)[-20:]),
        )
    try:
        outputs = tool.outputs_model.model_validate(result, from_attributes=True)
    except ValidationError as error:
        return _failure(ErrorType.invalid_output, str(error))
    return {"state": JobState.succeeded, "outputs": outputs.model_dump(mode="json")}


def _failure(error_type: ErrorType, message: str, **details: str) -> dict[str, Any]:
    return {"state": JobState.failed, "error": {"type": error_type, "message": message, **details}}


def _finish(job_id: uuid.UUID, *, progress: float, message: str | None, **ending: Any) -> None:
    if ending["state"] is JobState.succeeded:
        progress = 1.0
    now = utcnow()
    with SessionLocal() as session:
        finished = job_crud.transition_job(
            session,
            job_id,
            [JobState.running],
            progress=progress,
            message=message,
            finished_at=now,
            updated_at=now,
            **ending,
        )
        session.commit()
    if finished is not None:
        mirror_job(JobRead.model_validate(finished))


def _give_back_or_fail_lost(job_id: uuid.UUID) -> bool:
    with SessionLocal() as session:
        job = job_crud.get_job(session, job_id)
        if job is None or job.state is not JobState.running:
            return False
        if job.attempt >= job.max_attempts:
            return _fail_lost(session, job_id)
        requeued = job_crud.transition_job(
            session, job_id, [JobState.running], state=JobState.queued, updated_at=utcnow()
        )
        session.commit()
    if requeued is None:
        return False
    snapshot = JobRead.model_validate(requeued)
    mirror_job(snapshot)
    send_job(snapshot)
    return True


def _fail_lost(session: Session, job_id: uuid.UUID) -> bool:
    now = utcnow()
    failed = job_crud.transition_job(
        session,
        job_id,
        [JobState.running],
        state=JobState.failed,
        error={"type": ErrorType.worker_lost, "message": "the worker running this job stopped"},
        finished_at=now,
        updated_at=now,
    )
    session.commit()
    if failed is None:
        return False
    mirror_job(JobRead.model_validate(failed))
    return True


def _tick(job_id: uuid.UUID, fraction: float, message: str | None) -> None:
    try:
        redis_db.tick_job(job_id, fraction, message)
    except redis.RedisError as error:
        logger.warning("job %s: progress not mirrored to Redis: %r", job_id, error)


def _beat_heart(job_id: uuid.UUID) -> None:
    try:
        redis_db.beat_heart(job_id)
    except redis.RedisError as error:
        logger.warning("job %s: heartbeat not written: %r", job_id, error)


@contextmanager
def _heartbeat(job_id: uuid.UUID) -> Iterator[None]:
    """Refresh the job's heartbeat from a thread while the tool runs in this one."""
    stopped = threading.Event()

    def beat() -> None:
        while not stopped.wait(settings.HEARTBEAT_INTERVAL_SECONDS):
            _beat_heart(job_id)

    thread = threading.Thread(target=beat, name=f"heartbeat-{job_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stopped.set()
        thread.join()
        with suppress(redis.RedisError):  # it expires by itself
            redis_db.stop_heart(job_id)


@contextmanager
def _workdir(job_id: uuid.UUID) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"tooljobs-{job_id}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
