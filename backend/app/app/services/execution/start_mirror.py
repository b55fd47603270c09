"""The mirror of a job's start, held back a moment.

The start is committed to PostgreSQL at once, as every transition is; only its copy to
Redis waits, until the job has run for RUNNING_SHOWN_AFTER_SECONDS (the watchdog sends
it) or shows a sign of life first (a progress report or a log line: the start goes
before it, so that the start's snapshot never wipes a tick). A job that ends sooner is
mirrored once, at its end: readers see it go from queued to its end, as Celery shows a
task that does not track its start. That is one Redis round trip fewer, on the worker
and on Redis, for every short job, where that trip was a sixth of the worker's own time.

Nothing depends on the start's mirror being early: the reaper leaves a running job
alone for WORKER_LOST_AFTER_SECONDS after its start (the first heartbeat goes with this
mirror, and the watchdog beats on from there), and a start mirrored after the job's end
(the watchdog's send racing the end's) is refused by the snapshot's version, as any
older snapshot is.
"""

import threading
import time

from app.schemas.job import JobRead
from app.services.job_lifecycle import mirror_job

RUNNING_SHOWN_AFTER_SECONDS = 0.1


class StartMirror:
    def __init__(self, started: JobRead) -> None:
        self._started: JobRead | None = started
        self.due = time.monotonic() + RUNNING_SHOWN_AFTER_SECONDS
        # Held through the send: a tick waits until the start it follows is in Redis.
        self._lock = threading.Lock()

    def send(self) -> None:
        """Mirror the start now, unless it was sent already."""
        with self._lock:
            if self._started is not None:
                mirror_job(self._started, start_heartbeat=True)
                self._started = None

    def send_if_due(self, now: float) -> None:
        if self._started is not None and now >= self.due:
            self.send()
