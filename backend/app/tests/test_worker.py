"""Jobs run end to end: API -> PostgreSQL -> broker -> a real Celery worker -> Redis -> API."""

import subprocess

import pytest
from fastapi.testclient import TestClient

from app.worker.redis_db.connection import client as redis_client
from tests.support.job_api import submit_tool_job, wait_for_end
from tests.support.waiting import wait_until

pytestmark = pytest.mark.usefixtures("worker")


def test_echo_job_succeeds_with_its_outputs(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    job_id = submit_tool_job(
        client, user_headers, "echo", {"message": "hello", "payload": {"n": [1, 2]}}
    )["id"]
    job = wait_for_end(client, user_headers, job_id)
    assert job["state"] == "succeeded"
    assert job["outputs"] == {"message": "hello", "payload": {"n": [1, 2]}}
    assert job["error"] is None
    assert (job["progress"], job["attempt"]) == (1.0, 1)
    assert job["created_at"] <= job["started_at"] <= job["finished_at"]


def test_sleep_job_goes_queued_running_succeeded_with_progress(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    job_id = submit_tool_job(client, user_headers, "sleep", {"seconds": 2, "steps": 4})["id"]
    seen_states: list[str] = []
    seen_progress: list[float] = []

    def ended() -> bool:
        job = client.get(f"/api/v1/jobs/{job_id}", headers=user_headers).json()
        if not seen_states or seen_states[-1] != job["state"]:
            seen_states.append(job["state"])
        if job["state"] == "running":
            seen_progress.append(job["progress"])
        return bool(job["state"] == "succeeded")

    wait_until(ended, timeout=30)
    assert seen_states in (["queued", "running", "succeeded"], ["running", "succeeded"])
    # Reports between the first and the last step were seen while it ran.
    assert any(0 < fraction < 1 for fraction in seen_progress)
    assert seen_progress == sorted(seen_progress)
    job = client.get(f"/api/v1/jobs/{job_id}", headers=user_headers).json()
    assert job["outputs"]["slept"] >= 2
    assert job["message"] == "step 4 of 4"


def test_a_job_that_runs_on_shows_running_before_any_sign_of_life(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    # One step: its only progress report and log line come as it ends.
    job_id = submit_tool_job(client, user_headers, "sleep", {"seconds": 2, "steps": 1})["id"]

    def shown() -> dict[str, object] | None:
        job: dict[str, object] = client.get(f"/api/v1/jobs/{job_id}", headers=user_headers).json()
        return job if job["state"] != "queued" else None

    job = wait_until(shown, timeout=30)
    assert (job["state"], job["progress"]) == ("running", 0.0)


def test_fail_job_ends_failed_with_a_tool_error(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    job_id = submit_tool_job(client, user_headers, "fail", {"message": "on purpose"})["id"]
    job = wait_for_end(client, user_headers, job_id)
    assert job["state"] == "failed"
    assert job["error"] == {"type": "tool_error", "message": "on purpose"}
    assert job["outputs"] is None


def test_terminal_state_is_recorded_in_postgres_too(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    job_id = submit_tool_job(client, user_headers, "echo", {"message": "kept"})["id"]
    wait_for_end(client, user_headers, job_id)
    redis_client().flushdb()
    job = client.get(f"/api/v1/jobs/{job_id}", headers=user_headers).json()
    assert (job["state"], job["outputs"]["message"]) == ("succeeded", "kept")


def test_many_jobs_all_end(
    client: TestClient, user_headers: dict[str, str], worker: subprocess.Popen[bytes]
) -> None:
    job_ids = [
        submit_tool_job(client, user_headers, "echo", {"message": str(n)})["id"] for n in range(40)
    ]
    ended = [wait_for_end(client, user_headers, job_id) for job_id in job_ids]
    assert [job["outputs"]["message"] for job in ended] == [str(n) for n in range(40)]
    assert worker.poll() is None
