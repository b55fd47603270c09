"""What a running tool may use: progress, a log, a private folder, input files, artifacts.

The context is the same whether the tool runs on a worker or in a unit test; what
differs is the runtime behind it (app.services.execution.runtime for workers,
app.tools.testing for tests).
"""

import mimetypes
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


class JobCancelled(Exception):
    """Raised inside a tool when its job was cancelled; the tool should let it propagate."""


# A plain file name: no separators, no leading dot, nothing a path could climb out with.
_ARTIFACT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._+-]{0,254}$")


def is_artifact_name(name: str) -> bool:
    return bool(_ARTIFACT_NAME.fullmatch(name)) and ".." not in name


def plain_file_name(raw: str | None) -> str:
    """A client's file name made plain: its last path part, unusual characters as `_`."""
    last_part = re.split(r"[/\\]", raw or "")[-1]
    name = re.sub(r"[^A-Za-z0-9._+-]", "_", last_part).lstrip(".")[:255].replace("..", "_")
    return name if is_artifact_name(name) else "upload"


def guess_content_type(name: str) -> str:
    """From the file name; a compressed file is its compression (`x.txt.gz` is gzip)."""
    content_type, encoding = mimetypes.guess_type(name)
    if encoding is not None:
        return "application/gzip" if encoding == "gzip" else f"application/x-{encoding}"
    return content_type or "application/octet-stream"


@dataclass(frozen=True)
class InputFile:
    """An uploaded file a tool's inputs refer to; read it, do not change it."""

    path: Path
    name: str
    size: int
    sha256: str
    content_type: str

    def __format__(self, spec: str) -> str:
        # In a command-line tool's templates, `{file}` is the path to give a program.
        return format(self.path, spec)


@dataclass(frozen=True)
class ArtifactInfo:
    name: str
    size: int
    sha256: str
    content_type: str


class JobRuntime(Protocol):
    def report_progress(self, fraction: float, message: str | None) -> None: ...

    def write_log(self, line: str) -> None: ...

    def is_cancelled(self) -> bool: ...

    def input_file(self, file_id: uuid.UUID) -> InputFile: ...

    def store_artifact(self, path: Path, name: str, content_type: str) -> ArtifactInfo: ...


class JobContext:
    def __init__(self, job_id: uuid.UUID, workdir: Path, runtime: JobRuntime) -> None:
        self.job_id = job_id
        self._workdir = workdir
        self.progress_fraction = 0.0
        self.message: str | None = None
        self.artifacts: dict[str, ArtifactInfo] = {}
        self._runtime = runtime
        self._input_files: dict[uuid.UUID, InputFile] = {}

    @property
    def workdir(self) -> Path:
        """The job's private working directory, made when first asked for."""
        self._workdir.mkdir(parents=True, exist_ok=True)
        return self._workdir

    def progress(self, fraction: float, message: str | None = None) -> None:
        """Report how far the tool is, from 0 to 1; raises JobCancelled when cancelled."""
        self.progress_fraction = min(max(fraction, 0.0), 1.0)
        if message is not None:
            self.message = message
        self._runtime.report_progress(self.progress_fraction, self.message)
        self.raise_if_cancelled()

    def raise_if_cancelled(self) -> None:
        if self._runtime.is_cancelled():
            raise JobCancelled(str(self.job_id))

    def cancelled(self) -> bool:
        return self._runtime.is_cancelled()

    def log(self, line: str) -> None:
        """Add a line to the job's log."""
        self._runtime.write_log(line)

    def input_file(self, file_id: uuid.UUID) -> InputFile:
        """The local copy of a file the inputs refer to with a FileRef."""
        if file_id not in self._input_files:
            self._input_files[file_id] = self._runtime.input_file(file_id)
        return self._input_files[file_id]

    def add_artifact(
        self, path: Path, name: str | None = None, content_type: str | None = None
    ) -> ArtifactInfo:
        """Keep a file the tool made as an output of the job, downloadable by its name."""
        name = name or path.name
        if not is_artifact_name(name):
            raise ValueError(f"{name!r} is not a plain file name")
        # A link may point anywhere on the worker (a program can be made to leave one):
        # an artifact is a file's own bytes.
        if path.is_symlink():
            raise ValueError(f"{path} is a symbolic link, not a file the tool made")
        if not path.is_file():
            raise FileNotFoundError(path)
        info = self._runtime.store_artifact(path, name, content_type or guess_content_type(name))
        self.artifacts[name] = info
        return info
