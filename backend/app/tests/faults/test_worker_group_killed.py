"""The worker's whole process group SIGKILLed, as its machine dying looks to a Redis
broker, at each moment of a job (tests/support/group_kills.py): every job runs again or
fails worker_lost within WORKER_LOST_AFTER_SECONDS and a reaper period of a worker
being there, and none runs twice. Before the start, the message the dead worker took
waits in kombu's unacknowledged hash: the reaper gives it back."""

import time
from pathlib import Path
from typing import Any

from app.models.job import JobState
from tests.support import group_kills
from tests.support.fault_jobs import submit
from tests.support.fault_stack import STACK_SETTINGS, Stack
from tests.support.group_kills import BOUND
from tests.support.jobs import job_row
from tests.support.waiting import wait_until


@group_kills.at_each_moment
def test_worker_group_killed_every_job_ends_within_the_bound_once(
    stack: Stack, observe: Any, tmp_path: Path, moment: group_kills.Moment
) -> None:
    group_kills.ends_within_the_bound(stack, observe, tmp_path, moment)


def test_worker_group_killed_holding_a_retry_until_its_countdown_it_runs_within_the_bound(
    stack: Stack, observe: Any, tmp_path: Path
) -> None:
    """A transient error sends the job back with a countdown; the worker that takes the
    message holds it, unacknowledged, until then. Killed meanwhile: the message is given
    back once its countdown is a window past."""
    api = stack.client()
    job = submit(api, "flaky", {"folder": str(tmp_path), "failures": 1})
    broker = stack.redis.client(db=1)

    def worker_holds_the_retry() -> bool:
        taken = b"".join(broker.hvals("unacked"))
        row = job_row(job)
        return (row.state, row.attempt) == (JobState.queued, 1) and str(job).encode() in taken

    wait_until(worker_holds_the_retry, timeout=20, interval=0.02)
    stack.kill_worker()
    killed_at = time.monotonic()
    bound = BOUND + float(STACK_SETTINGS["RETRY_BACKOFF_SECONDS"])
    took = group_kills.wait_all_ended(stack, api, killed_at, bound, jobs=1)
    assert (job_row(job).state, job_row(job).attempt) == (JobState.succeeded, 2)
    assert (tmp_path / "tries").read_text() == "2"
    api.close()
    observe(f"the retry ran {took:.1f}s after the kill, less a new worker's start (bound {bound}s)")
