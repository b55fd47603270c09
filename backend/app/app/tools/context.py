"""What a running tool may use: progress reports, a log and a private working directory."""

import logging
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger("tooljobs.tool")

ProgressReporter = Callable[[float, str | None], None]


class JobCancelled(Exception):
    """Raised inside a tool when its job was cancelled; the tool should let it propagate."""


class JobContext:
    def __init__(self, job_id: str, workdir: Path, report_progress: ProgressReporter) -> None:
        self.job_id = job_id
        self.workdir = workdir
        self._report_progress = report_progress
        self.progress_fraction = 0.0
        self.message: str | None = None

    def progress(self, fraction: float, message: str | None = None) -> None:
        """Report how far the tool is, from 0 to 1, with an optional message."""
        self.progress_fraction = min(max(fraction, 0.0), 1.0)
        if message is not None:
            self.message = message
        self._report_progress(self.progress_fraction, self.message)

    def log(self, line: str) -> None:
        logger.info("job %s: %s", self.job_id, line)
