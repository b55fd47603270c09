"""A worker's whole process group SIGKILLed (as its machine dying looks to the broker)
at each moment of a job: before it started, while it runs, while it reports the end.
Shared by the fault cases of each broker; each returns how long the jobs took to end
after the kill, less the time a new worker took to start.

Two jobs each time, one per pool slot: `counted-sleep`, safe to rerun, which counts its
runs in a folder, and `sleep`, which may run once. The moments are made visible with the
database: stalled, it holds a pool process before the job is marked running (and before
the end is recorded), with the message taken and not acknowledged.
"""

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from app.models.job import JobState
from app.worker.redis_db import keys
from tests.support.fault_jobs import all_ended, both_running_for_a_while, submit
from tests.support.fault_stack import STACK_SETTINGS, Stack
from tests.support.jobs import job_row
from tests.support.processes import active_task_ids
from tests.support.waiting import wait_until

# The last sign of life of the dead worker (the message it took, or its heartbeat) is a
# window old a window after the kill at the latest; the next reaper run acts on it (once
# a new worker is there); plus a margin for a loaded machine.
BOUND = (
    float(STACK_SETTINGS["WORKER_LOST_AFTER_SECONDS"])
    + float(STACK_SETTINGS["REAPER_INTERVAL_SECONDS"])
    + 6
)


def counted_job(api: httpx.Client, folder: Path, seconds: float) -> uuid.UUID:
    folder.mkdir()
    return submit(api, "counted-sleep", {"folder": str(folder), "seconds": seconds, "steps": 2})


def runs(folder: Path) -> int:
    file = folder / "runs"
    return len(file.read_text().splitlines()) if file.exists() else 0


def wait_all_ended(
    stack: Stack, api: httpx.Client, killed_at: float, bound: float, jobs: int = 2
) -> float:
    """Start a new worker at once (it may run jobs before it answers a ping); seconds
    from the kill until every job ended, less the new worker's start."""
    database_answers_again(api)
    restart = time.monotonic()
    stack.start_worker()
    restart_took = time.monotonic() - restart
    wait_until(lambda: all_ended(jobs), timeout=bound + restart_took, interval=0.1)
    return time.monotonic() - killed_at - restart_took


def pool_holds(stack: Stack, jobs: set[uuid.UUID]) -> None:
    """Wait until the worker's pool processes took these jobs (they wait for the
    database to mark them running)."""
    broker_url = stack.env["CELERY_BROKER_URL"]
    wanted = {str(job) for job in jobs}
    wait_until(lambda: wanted <= active_task_ids(broker_url), timeout=30, interval=0.2)


def database_answers_again(api: httpx.Client) -> None:
    """The API dropped the connections the stall broke (a 503 drops those older than it)
    and answers, on every connection its pool keeps (one after the other, each takes the
    connection idle longest): a dead one left idle would fail a later case's first read,
    such as the user's when their cached copy expires."""
    in_a_row = 0

    def every_connection_answered() -> bool:
        nonlocal in_a_row
        in_a_row = in_a_row + 1 if api.get("/jobs").status_code == 200 else 0
        return in_a_row > 2 * int(STACK_SETTINGS["DATABASE_POOL_SIZE"])

    wait_until(every_connection_answered, timeout=20, interval=0)


def submits_answer_again(api: httpx.Client) -> None:
    """Submits, on a pool of their own, answer again too, on every connection the pool
    keeps (one after the other, each takes the connection idle longest): the next case
    starts whole."""
    in_a_row = 0

    def every_connection_answered() -> bool:
        nonlocal in_a_row
        response = api.post("/tools/echo/jobs", json={"inputs": {"message": "after"}})
        in_a_row = in_a_row + 1 if response.status_code == 202 else 0
        return in_a_row > 2 * int(STACK_SETTINGS["DATABASE_POOL_SIZE"])

    wait_until(every_connection_answered, timeout=20, interval=0)


def killed_before_start(stack: Stack, folder: Path, bound: float) -> float:
    """Both slots took a job and wait for the database to mark it running when the
    group dies: the jobs are queued, their messages taken."""
    api = stack.client()
    stack.stop_worker()
    counted = counted_job(api, folder / "counted", 0.2)
    other = submit(api, "sleep", {"seconds": 0.2, "steps": 1})
    stack.database_proxy.stall()
    try:
        # Only the jobs' queue, so that no housekeeping task takes a slot meanwhile.
        stack.start_worker("--queues", "default")
        pool_holds(stack, {counted, other})
        stack.kill_worker()
        killed_at = time.monotonic()
    finally:
        stack.database_proxy.restore()
    database_answers_again(api)
    assert {job_row(job).state for job in (counted, other)} == {JobState.queued}
    took = wait_all_ended(stack, api, killed_at, bound)
    for job in (counted, other):
        assert (job_row(job).state, job_row(job).attempt) == (JobState.succeeded, 1)
    assert runs(folder / "counted") == 1
    submits_answer_again(api)
    api.close()
    return took


def killed_while_running(stack: Stack, folder: Path, bound: float) -> float:
    api = stack.client()
    counted = counted_job(api, folder / "counted", 2)
    other = submit(api, "sleep", {"seconds": 2, "steps": 4})
    wait_until(lambda: both_running_for_a_while({counted, other}), timeout=30, interval=0.02)
    stack.kill_worker()
    took = wait_all_ended(stack, api, time.monotonic(), bound)
    check_lost_attempt_ended(counted, other, runs(folder / "counted"))
    api.close()
    return took


def killed_while_reporting_the_end(stack: Stack, folder: Path, bound: float) -> float:
    """Both tools returned; the ends wait for the database when the group dies."""
    api = stack.client()
    counted = counted_job(api, folder / "counted", 1)
    other = submit(api, "sleep", {"seconds": 1, "steps": 2})
    wait_until(lambda: both_running_for_a_while({counted, other}, 0.1), timeout=30, interval=0.02)
    hot = stack.redis.client()
    stack.database_proxy.stall()
    try:
        wait_until(
            lambda: all(hot.hget(keys.job(job), "progress") == b"1.0" for job in (counted, other)),
            timeout=10,
            interval=0.02,
        )
        time.sleep(0.3)  # from the last progress report into recording the end
        stack.kill_worker()
        killed_at = time.monotonic()
    finally:
        stack.database_proxy.restore()
    database_answers_again(api)
    assert {job_row(job).state for job in (counted, other)} == {JobState.running}
    took = wait_all_ended(stack, api, killed_at, bound)
    check_lost_attempt_ended(counted, other, runs(folder / "counted"))
    submits_answer_again(api)
    api.close()
    return took


def check_lost_attempt_ended(counted: uuid.UUID, other: uuid.UUID, counted_runs: int) -> None:
    """The rerunnable job ran once more and succeeded; the other failed worker_lost."""
    assert (job_row(counted).state, job_row(counted).attempt) == (JobState.succeeded, 2)
    assert counted_runs == 2
    lost = job_row(other)
    assert (lost.state, lost.attempt) == (JobState.failed, 1)
    assert lost.error is not None
    assert lost.error["type"] == "worker_lost"


# A moment: the worker killed at it; how long the jobs took to end after the kill.
Moment = Callable[[Stack, Path, float], float]

# Each moment, for the fault suite of each broker.
at_each_moment = pytest.mark.parametrize(
    "moment",
    [killed_before_start, killed_while_running, killed_while_reporting_the_end],
    ids=["before-start", "while-running", "reporting-the-end"],
)


def ends_within_the_bound(
    stack: Stack, observe: Callable[[str], None], folder: Path, moment: Moment
) -> None:
    took = moment(stack, folder, BOUND)
    observe(
        f"both jobs ended {took:.1f}s after the kill, less a new worker's start "
        f"(bound {BOUND:.1f}s)"
    )
