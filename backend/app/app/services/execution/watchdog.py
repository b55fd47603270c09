"""One thread per worker process that watches the jobs it runs: it mirrors their starts
when due (start_mirror), keeps their hearts beating and stops a tool that ignores its
cancel.

One long-lived thread rather than one per job: starting and joining a thread for every
job cost a tenth of a short job's time on the worker.
"""

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from app.core.config import settings
from app.services.execution.start_mirror import RUNNING_SHOWN_AFTER_SECONDS, StartMirror
from app.worker.redis_db import heartbeats
from app.worker.redis_db import jobs as hot_jobs

logger = logging.getLogger(__name__)

# How often a running job's cancel flag is read: often enough to see a cancel within a
# second.
CANCEL_CHECK_SECONDS = 0.5


@dataclass
class _Watch:
    job_id: uuid.UUID
    # None while the end is recorded: the heart beats on, nothing is stopped.
    stop_stuck_tool: Callable[[], None] | None
    start: StartMirror
    last_beat: float = field(default_factory=time.monotonic)
    last_cancel_check: float = field(default_factory=time.monotonic)
    cancel_seen: float | None = None


class Watchdog:
    def __init__(self) -> None:
        self._watches: dict[uuid.UUID, _Watch] = {}
        # Held while a watch is looked after, so that once `watching` returns nothing is
        # done for that job any more (no tool of a later job is stopped for it).
        self._lock = threading.Lock()
        threading.Thread(target=self._run, name="job-watchdog", daemon=True).start()

    @contextmanager
    def watching(
        self,
        job_id: uuid.UUID,
        stop_stuck_tool: Callable[[], None] | None,
        start: StartMirror,
    ) -> Iterator[None]:
        with self._lock:
            self._watches[job_id] = _Watch(job_id, stop_stuck_tool, start)
        try:
            yield
        finally:
            # The heartbeat key expires by itself; only a running job's heartbeat is read.
            with self._lock:
                del self._watches[job_id]

    def _run(self) -> None:
        tick = min(
            settings.HEARTBEAT_INTERVAL_SECONDS, CANCEL_CHECK_SECONDS, RUNNING_SHOWN_AFTER_SECONDS
        )
        while True:
            time.sleep(tick)
            with self._lock:
                for watch in list(self._watches.values()):
                    self._look_after(watch)

    def _look_after(self, watch: _Watch) -> None:
        now = time.monotonic()
        watch.start.send_if_due(now)
        if now - watch.last_beat >= settings.HEARTBEAT_INTERVAL_SECONDS:
            heartbeats.beat_heart(watch.job_id)
            watch.last_beat = now
        if watch.stop_stuck_tool is None or now - watch.last_cancel_check < CANCEL_CHECK_SECONDS:
            return
        watch.last_cancel_check = now
        if watch.cancel_seen is None:
            watch.cancel_seen = now if hot_jobs.cancel_requested(watch.job_id) else None
        elif now - watch.cancel_seen >= settings.CANCEL_GRACE_SECONDS:
            logger.warning("job %s: the tool ignored its cancel; terminating it", watch.job_id)
            watch.stop_stuck_tool()
            watch.stop_stuck_tool = None  # once is enough; the heart beats on


_watchdog: Watchdog | None = None
_creating = threading.Lock()


def watchdog() -> Watchdog:
    """This process's watchdog, started at the first job (threads do not survive fork)."""
    global _watchdog
    with _creating:
        if _watchdog is None:
            _watchdog = Watchdog()
        return _watchdog


def _forget_parents_watchdog() -> None:
    global _watchdog
    _watchdog = None


os.register_at_fork(after_in_child=_forget_parents_watchdog)
