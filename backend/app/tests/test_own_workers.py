"""Tests that start and stop their own workers: a worker that dies mid-job (SIGKILL),
priorities, and a tool's own queue. No other worker runs during this module."""

import os
import signal
import subprocess
import uuid

from fastapi.testclient import TestClient

from app.models.job import JobState
from app.services import housekeeping
from tests.conftest import job_row, start_worker, stop, wait_until
from tests.test_lifecycle import submit, wait_for_state
from tests.test_worker import wait_for_end


def kill_worker(worker: subprocess.Popen[bytes]) -> None:
    """SIGKILL the worker and its pool processes, as a machine that dies would."""
    children = subprocess.run(
        ["pgrep", "-P", str(worker.pid)], capture_output=True, text=True, check=False
    ).stdout.split()
    for pid in [worker.pid, *map(int, children)]:
        os.kill(pid, signal.SIGKILL)
    worker.wait()


def test_worker_killed_mid_job_the_job_is_run_again_or_failed_as_lost(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    worker = start_worker()
    try:
        retried = submit(client, user_headers, "stubborn", {"seconds": 2})  # max_attempts 2
        last_try = submit(client, user_headers, "sleep", {"seconds": 20, "steps": 20})
        wait_for_state(client, user_headers, retried["id"], "running")
        wait_for_state(client, user_headers, last_try["id"], "running")
    finally:
        kill_worker(worker)
    # No heartbeat for WORKER_LOST_AFTER_SECONDS: beat's reaper decides.
    wait_until(lambda: housekeeping.reap_lost_jobs() or None, timeout=20, interval=0.5)
    failed = job_row(uuid.UUID(last_try["id"]))
    assert failed.state is JobState.failed
    assert failed.error is not None
    assert failed.error["type"] == "worker_lost"
    assert job_row(uuid.UUID(retried["id"])).state is JobState.queued
    replacement = start_worker()
    try:
        finished = wait_for_end(client, user_headers, retried["id"])
        assert (finished["state"], finished["attempt"]) == ("succeeded", 2)
    finally:
        stop(replacement)


def test_higher_priority_jobs_start_first(client: TestClient, user_headers: dict[str, str]) -> None:
    low = [submit(client, user_headers, "echo", {"message": str(n)}, priority=0) for n in range(3)]
    urgent = submit(client, user_headers, "echo", {"message": "urgent"}, priority=9)
    worker = start_worker("--concurrency", "1")
    try:
        ended = [wait_for_end(client, user_headers, job["id"]) for job in [*low, urgent]]
    finally:
        stop(worker)
    first = min(ended, key=lambda job: job["started_at"])
    assert first["id"] == urgent["id"]


def test_a_tool_on_its_own_queue_runs_only_on_workers_of_that_queue(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    job = submit(client, user_headers, "heavy-echo", {"message": "big"})
    default_worker = start_worker()
    try:
        light = submit(client, user_headers, "echo", {"message": "light"})
        assert wait_for_end(client, user_headers, light["id"])["state"] == "succeeded"
        assert job_row(uuid.UUID(job["id"])).state is JobState.queued
    finally:
        stop(default_worker)
    heavy_worker = start_worker("--queues", "heavy")
    try:
        assert wait_for_end(client, user_headers, job["id"])["outputs"] == {"message": "big"}
    finally:
        stop(heavy_worker)
