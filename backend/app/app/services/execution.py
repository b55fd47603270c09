"""Use-cases of jobs as the worker sees them: run one, and reap those whose worker vanished."""

import dataclasses
import logging
import shutil
import tempfile
import threading
import traceback
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from datetime import timedelta
from pathlib import Path
from typing import Any

import redis
from celery.exceptions import SoftTimeLimitExceeded
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.core.config import settings
from app.core.storage import read_chunks, storage
from app.crud import artifact as artifact_crud
from app.crud import file as file_crud
from app.crud import job as job_crud
from app.db.base_class import utcnow
from app.db.session import SessionLocal
from app.models.artifact import Artifact
from app.models.job import TERMINAL_STATES, ErrorType, Job, JobState
from app.schemas.job import JobRead
from app.services.jobs import mirror_job, send_job
from app.services.storage_keys import artifact_key, file_key
from app.tools.base import ToolError, ToolTimeout
from app.tools.context import ArtifactInfo, InputFile, JobCancelled, JobContext
from app.tools.registry import UnknownToolError, get_tool
from app.worker import redis_db

logger = logging.getLogger(__name__)


def execute_job(job_id: uuid.UUID) -> None:
    """Run the job's tool once and record how it ended. Safe to call twice for one job."""
    job = _start(job_id)
    if job is None:
        return
    with _heartbeat(job_id), _workdir(job_id) as workdir, ExitStack() as cleanup:
        ctx = JobContext(job_id, workdir, WorkerRuntime(job_id, cleanup))
        ending = _run_tool(job, ctx)
    _finish(job_id, ctx, **ending)


class WorkerRuntime:
    """What a JobContext does on a worker: Redis for progress, storage for files."""

    def __init__(self, job_id: uuid.UUID, cleanup: ExitStack) -> None:
        self.job_id = job_id
        self._cleanup = cleanup

    def report_progress(self, fraction: float, message: str | None) -> None:
        try:
            redis_db.tick_job(self.job_id, fraction, message)
        except redis.RedisError as error:
            logger.warning("job %s: progress not mirrored to Redis: %r", self.job_id, error)

    def write_log(self, line: str) -> None:
        logger.info("job %s: %s", self.job_id, line)

    def is_cancelled(self) -> bool:
        return False

    def input_file(self, file_id: uuid.UUID) -> InputFile:
        with SessionLocal() as session:
            row = file_crud.get_file(session, file_id)
        if row is None:
            raise ToolError(f"input file {file_id} was deleted")
        path = self._cleanup.enter_context(storage().local_path(file_key(file_id)))
        return InputFile(
            path=path,
            name=row.name,
            size=row.size,
            sha256=row.sha256,
            content_type=row.content_type,
        )

    def store_artifact(self, path: Path, name: str, content_type: str) -> ArtifactInfo:
        with path.open("rb") as stream:
            stored = storage().write(artifact_key(self.job_id, name), read_chunks(stream))
        return ArtifactInfo(
            name=name, size=stored.size, sha256=stored.sha256, content_type=content_type
        )


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
    except (SoftTimeLimitExceeded, ToolTimeout):
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


def _finish(job_id: uuid.UUID, ctx: JobContext, **ending: Any) -> None:
    """The final transition, with the last progress report and the artifacts, in one commit."""
    now = utcnow()
    progress = 1.0 if ending["state"] is JobState.succeeded else ctx.progress_fraction
    with SessionLocal() as session:
        finished = job_crud.transition_job(
            session,
            job_id,
            [JobState.running],
            progress=progress,
            message=ctx.message,
            finished_at=now,
            updated_at=now,
            **ending,
        )
        if finished is not None:
            artifact_crud.add_artifacts(
                session,
                [
                    Artifact(job_id=job_id, **dataclasses.asdict(info))
                    for info in ctx.artifacts.values()
                ],
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
