"""What the OGC face refuses in the standard's words; each is also a plain service
error, so code that knows nothing of OGC still reads it right."""

from app.models.job import JobError
from app.services.errors import Conflict, NotFound


class NoSuchProcess(NotFound):
    pass


class NoSuchJob(NotFound):
    pass


class ResultNotReady(Conflict):
    """The job has not ended yet (the standard answers 404 for it)."""


class JobFailed(Conflict):
    """Results asked of a job that failed or was dismissed: its error instead."""

    def __init__(self, detail: str, error: JobError | None) -> None:
        super().__init__(detail)
        self.error = error
