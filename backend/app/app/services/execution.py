"""Use-cases of jobs as the worker sees them: run one, stop one that was cancelled."""

import dataclasses
import logging
import random
import shutil
import tempfile
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import cache
from pathlib import Path
from typing import Any, TextIO

from celery.exceptions import SoftTimeLimitExceeded
from pydantic import ValidationError
from sqlalchemy import Row
from sqlalchemy.orm import Session

from app.core.config import settings
from app.core.storage import read_chunks, storage
from app.crud import artifact as artifact_crud
from app.crud import file as file_crud
from app.crud import job as job_crud
from app.db.base_class import utcnow
from app.db.retry import retry_while_unreachable
from app.db.session import SessionLocal
from app.models.artifact import Artifact
from app.models.file import File
from app.models.job import TERMINAL_STATES, ErrorType, JobState
from app.schemas.job import JobRead
from app.services.hot_state import (
    beat_heart,
    best_effort,
    cancel_requested,
    mirror_job,
    restore_heartbeat,
)
from app.services.jobs import send_job
from app.services.storage_keys import artifact_key, file_key, log_key
from app.services.watchdog import watchdog
from app.services.webhooks import schedule_delivery
from app.tools.base import ToolError, ToolTimeout
from app.tools.context import ArtifactInfo, InputFile, JobCancelled, JobContext
from app.tools.registry import UnknownToolError, get_tool
from app.worker import redis_db

logger = logging.getLogger(__name__)


def execute_job(job_id: uuid.UUID, *, stop_stuck_tool: Callable[[], None]) -> None:
    """Run the job's tool once and record how it ended. Safe to call twice for one job.

    `stop_stuck_tool` is called from another thread when the job was cancelled and the
    tool did not stop within CANCEL_GRACE_SECONDS.
    """
    job = _start(job_id)
    if job is None:
        return
    with _job_folder(job_id) as folder, ExitStack() as cleanup:
        runtime = WorkerRuntime(job_id, folder / "log.txt", cleanup)
        ctx = JobContext(job_id, folder / "work", runtime)
        with watchdog().watching(job_id, stop_stuck_tool):
            ending = _run_tool(job, ctx)
        runtime.keep_log()
    # The heart beats on until the end is recorded, however long the database is away,
    # so that the reaper does not take a finished job for a lost one.
    with watchdog().watching(job_id, stop_stuck_tool=None):
        _finish(job, ctx, ending)


def end_terminated_job(job_id: uuid.UUID) -> None:
    """A job whose tool was terminated after a cancel: record it as cancelled."""
    _end(job_id, {"state": JobState.cancelled}, progress=None, message=None, artifacts=[])


class WorkerRuntime:
    """What a JobContext does on a worker: Redis for progress, storage for files."""

    def __init__(self, job_id: uuid.UUID, log_file: Path, cleanup: ExitStack) -> None:
        self.job_id = job_id
        self._log_file = log_file
        self._log: TextIO | None = None  # opened at the first line
        self._cleanup = cleanup

    def report_progress(self, fraction: float, message: str | None) -> None:
        best_effort("progress", lambda: redis_db.tick_job(self.job_id, fraction, message), None)

    def write_log(self, line: str) -> None:
        if self._log is None:
            self._log_file.parent.mkdir(parents=True, exist_ok=True)
            self._log = self._cleanup.enter_context(self._log_file.open("a", encoding="utf-8"))
        self._log.write(line + "\n")
        best_effort("log", lambda: redis_db.append_log(self.job_id, line), None)

    def is_cancelled(self) -> bool:
        return cancel_requested(self.job_id)

    def input_file(self, file_id: uuid.UUID) -> InputFile:
        def read() -> File | None:
            with SessionLocal() as session:
                return file_crud.get_file(session, file_id)

        row = retry_while_unreachable("read input file", read)
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

    def keep_log(self) -> None:
        """Store the whole log before the job ends, so readers of an ended job find it."""
        if self._log is None:
            return
        self._log.flush()
        if self._log_file.stat().st_size:
            with self._log_file.open("rb") as stream:
                storage().write(log_key(self.job_id), read_chunks(stream))


def _start(job_id: uuid.UUID) -> JobRead | None:
    """queued -> running with attempt + 1; None when this delivery must not run the job."""
    # Beat before the row says running, so the reaper never sees running without a heart.
    previous_beat = beat_heart(job_id)
    started = retry_while_unreachable("start job", lambda: _take_job(job_id, previous_beat))
    if started is None:
        return None
    snapshot = JobRead.model_validate(started)
    mirror_job(snapshot)
    return snapshot


def _take_job(job_id: uuid.UUID, previous_beat: float | None) -> Row[Any] | None:
    with SessionLocal() as session:
        # Most deliveries find the job queued: one statement takes it.
        started = _take(session, job_id, [JobState.queued])
        if started is None:
            job = job_crud.get_job(session, job_id)
            if job is None or job.state in TERMINAL_STATES:
                return None  # deleted, cancelled, or finished by an earlier delivery
            if job.state is JobState.running:
                if redis_db.is_recent(previous_beat) or not _heartbeats_are_complete():
                    # A live worker has it (a duplicate delivery), or may have it: Redis
                    # lost the beats lately. The reaper decides once they are back, by
                    # the heart as that worker left it: a delivery that does not run
                    # the job must not keep a dead worker's job alive.
                    restore_heartbeat(job_id, previous_beat)
                    return None
                if job.attempt >= job.max_attempts:
                    end_job(session, job_id, WORKER_LOST)
                    return None
            started = _take(session, job_id, [JobState.queued, JobState.running])
        session.commit()
    return started


def _take(session: Session, job_id: uuid.UUID, from_states: list[JobState]) -> Row[Any] | None:
    return job_crud.start_job(session, job_id, from_states, utcnow())


def _run_tool(job: JobRead, ctx: JobContext) -> dict[str, Any]:
    """How the job ended, as the values of its final transition."""
    try:
        tool_class = get_tool(job.tool)
    except UnknownToolError:
        return _failure(ErrorType.system_error, f"tool {job.tool!r} is not on this worker")
    try:
        tool = tool_class()
        inputs = tool.inputs_model.model_validate(job.inputs)
        result = tool.run(inputs, ctx)
    except (SoftTimeLimitExceeded, ToolTimeout):
        return _failure(ErrorType.timeout, "the tool ran past its time limit")
    except JobCancelled:
        return {"state": JobState.cancelled}
    except ToolError as error:
        return _failure(ErrorType.tool_error, str(error))
    except Exception as error:
        if isinstance(error, tool_class.transient_errors) and job.attempt < job.max_attempts:
            return {"state": JobState.queued, "message": f"retrying after {error!r}"}
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


WORKER_LOST = _failure(ErrorType.worker_lost, "the worker running this job stopped")


def _finish(job: JobRead, ctx: JobContext, ending: dict[str, Any]) -> None:
    if ending["state"] is JobState.queued:
        _retry_later(job, ending["message"])
        return
    progress = 1.0 if ending["state"] is JobState.succeeded else ctx.progress_fraction
    artifacts = list(ctx.artifacts.values())
    _end(job.id, ending, progress=progress, message=ctx.message, artifacts=artifacts)


def _end(
    job_id: uuid.UUID,
    ending: dict[str, Any],
    *,
    progress: float | None,
    message: str | None,
    artifacts: list[ArtifactInfo],
) -> None:
    """The final transition, with the last progress report and the artifacts, in one commit."""
    values = dict(ending)
    if progress is not None:
        values.update(progress=progress, message=message)

    def end() -> None:
        rows = [Artifact(job_id=job_id, **dataclasses.asdict(a)) for a in artifacts]
        with SessionLocal() as session:
            end_job(session, job_id, values, artifacts=rows)

    retry_while_unreachable("end job", end)


def end_job(
    session: Session,
    job_id: uuid.UUID,
    values: dict[str, Any],
    *,
    artifacts: list[Artifact] | None = None,
) -> JobRead | None:
    """running -> an end state, committed, mirrored, and announced to the job's webhook."""
    now = utcnow()
    ended = job_crud.transition_job(
        session, job_id, [JobState.running], finished_at=now, updated_at=now, **values
    )
    if ended is not None and artifacts:
        artifact_crud.add_artifacts(session, artifacts)
    session.commit()
    if ended is None:
        return None
    snapshot = JobRead.model_validate(ended)
    mirror_job(snapshot)
    if snapshot.callback_url:
        schedule_delivery(snapshot.id)
    return snapshot


def _retry_later(job: JobRead, message: str) -> None:
    """Back to queued, and sent again after an exponential backoff with jitter."""

    def requeue() -> Row[Any] | None:
        with SessionLocal() as session:
            requeued = job_crud.transition_job(
                session,
                job.id,
                [JobState.running],
                state=JobState.queued,
                message=message,
                updated_at=utcnow(),
            )
            session.commit()
            return requeued

    requeued = retry_while_unreachable("retry job", requeue)
    if requeued is None:
        return
    snapshot = JobRead.model_validate(requeued)
    backoff = settings.RETRY_BACKOFF_SECONDS * 2 ** (job.attempt - 1)
    countdown = min(backoff, settings.RETRY_BACKOFF_MAX_SECONDS) * random.uniform(0.5, 1.0)
    send_job(snapshot, countdown=countdown)


def _heartbeats_are_complete() -> bool:
    return best_effort("hot state age", redis_db.heartbeats_are_complete, False)


@cache
def _jobs_folder() -> Path:
    """This worker process's own folder (mode 0700), for the folders of its jobs."""
    return Path(tempfile.mkdtemp(prefix="tooljobs-worker-"))


@contextmanager
def _job_folder(job_id: uuid.UUID) -> Iterator[Path]:
    """The job's folder: `work/` for the tool, the log beside it; removed afterwards.
    Nothing is made on disk until the tool writes a file or a log line."""
    path = _jobs_folder() / str(job_id)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
