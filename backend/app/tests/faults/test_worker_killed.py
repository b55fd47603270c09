"""A worker SIGKILLed mid-job, with 50 jobs in flight: first its pool processes (the
main process lives on and starts new ones), then the whole worker. Every job ends; a
tool declared safe to rerun (max_attempts > 1) finishes on another try, the others fail
`worker_lost`."""

import os
import signal
import time
from typing import Any

from app.models.job import Job, JobState
from tests.support.fault_jobs import all_ended, both_running_for_a_while, submit
from tests.support.fault_stack import STACK_SETTINGS, Stack
from tests.support.jobs import job_row
from tests.support.processes import pool_processes
from tests.support.waiting import wait_until

LONG = {"seconds": 2, "steps": 4}
SHORT = {"seconds": 0.1, "steps": 1}
# A lost job is noticed once its last heartbeat (up to an interval before the kill) is
# a window old, at the next reaper run; plus a margin for a loaded machine.
REAPER_BOUND = (
    float(STACK_SETTINGS["WORKER_LOST_AFTER_SECONDS"])
    + float(STACK_SETTINGS["HEARTBEAT_INTERVAL_SECONDS"])
    + 4
)


def test_worker_killed_mid_job_every_job_ends_and_rerunnable_ones_succeed(
    stack: Stack, observe: Any
) -> None:
    api = stack.client()
    # Each long pair is alone on the worker's two slots when the kill comes; the short
    # jobs queued behind it must all come through.
    first = {submit(api, "sleep", LONG), submit(api, "rerunnable", LONG)}
    short = [submit(api, ("sleep", "rerunnable")[n % 2], SHORT) for n in range(48)]
    assert stack.worker is not None
    wait_until(lambda: both_running_for_a_while(first), timeout=30, interval=0.02)
    for pid in pool_processes(stack.worker):
        os.kill(pid, signal.SIGKILL)
    killed_pool_at = time.monotonic()
    # The main process hands the jobs back and the broker redelivers them at once, but
    # their heartbeats are fresh: only the reaper may decide, within its period. (The
    # rerunnable job may be running its second attempt by the time we look.)
    wait_until(
        lambda: all(killed_attempt_decided(job_row(job)) for job in first),
        timeout=REAPER_BOUND,
        interval=0.1,
    )
    pool_kill_resolved_after = time.monotonic() - killed_pool_at
    wait_until(lambda: all_ended(50), timeout=30, interval=0.2)

    second = {submit(api, "sleep", LONG), submit(api, "rerunnable", LONG)}
    short += [submit(api, ("sleep", "rerunnable")[n % 2], SHORT) for n in range(10)]
    wait_until(lambda: both_running_for_a_while(second), timeout=30, interval=0.02)
    stack.kill_worker()
    # Nothing runs until a worker is back; from then on the reaper's bound holds.
    stack.start_worker()
    restarted_at = time.monotonic()
    counts = wait_until(lambda: all_ended(62), timeout=REAPER_BOUND + 20, interval=0.2)
    all_ended_after = time.monotonic() - restarted_at
    api.close()

    for job_id in first | second:
        job = job_row(job_id)
        if job.tool == "sleep":
            assert job.state is JobState.failed, job_id
            assert job.error is not None
            assert job.error["type"] == "worker_lost"
            assert job.attempt == 1
        else:
            assert (job.state, job.attempt) == (JobState.succeeded, 2), job_id
    for job_id in short:
        assert (job_row(job_id).state, job_row(job_id).attempt) == (JobState.succeeded, 1)
    assert counts == {"succeeded": 60, "failed": 2, "failed:worker_lost": 2}
    observe(
        f"{counts}: the 2 rerunnable jobs killed (one per kill) succeeded on attempt 2, "
        f"the 2 others failed worker_lost; pool kill resolved in "
        f"{pool_kill_resolved_after:.1f}s; after the whole worker was killed, all ended "
        f"{all_ended_after:.1f}s after a new worker answered"
    )


def killed_attempt_decided(job: Job) -> bool:
    return job.state is not JobState.running or job.attempt > 1
