"""Tests that start and stop their own workers: priorities, a tool's own queue, beat.
No other worker runs during this module. (A worker killed mid-job: tests/faults.)"""

import time
import uuid
from pathlib import Path

from fastapi.testclient import TestClient

from app.models.job import JobState
from tests.support.job_api import submit_tool_job as submit
from tests.support.job_api import wait_for_end
from tests.support.jobs import job_row
from tests.support.processes import start_beat, start_worker, stop
from tests.support.waiting import wait_until


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


def test_beat_runs_an_interval_schedule_until_it_is_disabled(
    client: TestClient, user_headers: dict[str, str], tmp_path: Path
) -> None:
    schedule = client.post(
        "/api/v1/schedules",
        headers=user_headers,
        json={"name": "tick", "tool": "echo", "inputs": {"message": "t"}, "interval_seconds": 1},
    ).json()
    worker = start_worker()
    beat = start_beat(tmp_path / "beat-schedule", {"SCHEDULER_TICK_SECONDS": "0.5"})
    url = f"/api/v1/schedules/{schedule['id']}"
    try:

        def run_count() -> int:
            return int(client.get(url, headers=user_headers).json()["run_count"])

        first = wait_until(run_count, timeout=30, interval=0.2)  # beat is up
        wait_until(lambda: run_count() - first >= 2, timeout=10, interval=0.2)
        client.patch(url, headers=user_headers, json={"enabled": False})
        stopped_at = run_count()
        time.sleep(2)
        assert run_count() == stopped_at
    finally:
        stop(beat)
        stop(worker)
    jobs = client.get(
        "/api/v1/jobs", headers=user_headers, params={"schedule_id": schedule["id"]}
    ).json()["items"]
    assert len(jobs) == stopped_at
    assert {job["state"] for job in jobs} == {"succeeded"}


def test_schedules_fire_on_time_while_every_tool_worker_is_busy(
    client: TestClient, user_headers: dict[str, str], tmp_path: Path
) -> None:
    # The only tool worker is taken by a long job; beat's entries go to the housekeeping
    # queue, which a worker of its own serves, so the schedule still fires every second.
    busy = submit(client, user_headers, "sleep", {"seconds": 60, "steps": 60})
    tool_worker = start_worker("--queues", "default", "--concurrency", "1")
    housekeeping_worker = start_worker("--queues", "housekeeping", "--concurrency", "1")
    beat = start_beat(tmp_path / "beat-schedule", {"SCHEDULER_TICK_SECONDS": "0.5"})
    try:
        wait_until(lambda: job_row(uuid.UUID(busy["id"])).state is JobState.running, timeout=30)
        schedule = client.post(
            "/api/v1/schedules",
            headers=user_headers,
            json={
                "name": "on time",
                "tool": "echo",
                "inputs": {"message": "t"},
                "interval_seconds": 1,
                # Its jobs wait behind the busy tool worker; every slot still fires.
                "overlap": "allow",
            },
        ).json()
        url = f"/api/v1/schedules/{schedule['id']}"

        def run_count() -> int:
            return int(client.get(url, headers=user_headers).json()["run_count"])

        first = wait_until(run_count, timeout=30, interval=0.2)  # beat is up
        wait_until(lambda: run_count() - first >= 2, timeout=10, interval=0.2)
        assert job_row(uuid.UUID(busy["id"])).state is JobState.running
    finally:
        client.post(f"/api/v1/jobs/{busy['id']}/cancel", headers=user_headers)
        stop(beat)
        stop(housekeeping_worker)
        stop(tool_worker)
