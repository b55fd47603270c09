"""What a JobContext does on a worker: Redis for progress and the live log, storage for
files, and a private folder for the job that is gone once it ended."""

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import cache
from pathlib import Path
from typing import TextIO

from sqlalchemy.orm import Session

from app.core.storage import read_chunks, storage
from app.crud import file as file_crud
from app.db.retry import retry_while_unreachable
from app.models.file import File
from app.services.execution.start_mirror import StartMirror
from app.services.storage_keys import artifact_key, file_key, log_key
from app.tools.base import ToolError
from app.tools.context import ArtifactInfo, InputFile
from app.worker.redis_db import jobs as hot_jobs


class WorkerRuntime:
    def __init__(
        self,
        session: Session,
        job_id: uuid.UUID,
        log_file: Path,
        cleanup: ExitStack,
        start: StartMirror,
    ) -> None:
        self.job_id = job_id
        self._session = session
        self._log_file = log_file
        self._log: TextIO | None = None  # opened at the first line
        self._cleanup = cleanup
        self._start = start

    def report_progress(self, fraction: float, message: str | None) -> None:
        # A sign of life: the job shows running before its first tick.
        self._start.send()
        hot_jobs.tick_job(self.job_id, fraction, message)

    def write_log(self, line: str) -> None:
        self._start.send()
        if self._log is None:
            self._log_file.parent.mkdir(parents=True, exist_ok=True)
            self._log = self._cleanup.enter_context(self._log_file.open("a", encoding="utf-8"))
        self._log.write(line + "\n")
        hot_jobs.append_log(self.job_id, line)

    def is_cancelled(self) -> bool:
        return hot_jobs.cancel_requested(self.job_id)

    def input_file(self, file_id: uuid.UUID) -> InputFile:
        def read() -> File | None:
            row = file_crud.get_file(self._session, file_id)
            self._session.commit()  # the read is over: no connection held while the tool runs
            return row

        row = retry_while_unreachable(self._session, "read input file", read)
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


@cache
def _jobs_folder() -> Path:
    """This worker process's own folder (mode 0700), for the folders of its jobs."""
    return Path(tempfile.mkdtemp(prefix="tooljobs-worker-"))


@contextmanager
def job_folder(job_id: uuid.UUID) -> Iterator[Path]:
    """The job's folder: `work/` for the tool, the log beside it; removed afterwards.
    Nothing is made on disk until the tool writes a file or a log line."""
    path = _jobs_folder() / str(job_id)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
