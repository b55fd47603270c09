"""PostgreSQL out of reach (every connection dropped, new ones refused) while jobs run:
the API answers 503 with a JSON detail, never a 500, and recovers by itself once the
database is back; the worker keeps the jobs it was running and records how they ended."""

import time
from typing import Any

import httpx

from app.models.job import JobState
from tests.support.fault_jobs import all_ended, both_running_for_a_while, submit
from tests.support.fault_stack import Stack
from tests.support.jobs import job_row
from tests.support.waiting import wait_until

OUTAGE_SECONDS = 4
# Both end while the database is away.
LONG = {"seconds": 2.5, "steps": 5}


def is_503_with_detail(response: httpx.Response) -> bool:
    assert response.status_code == 503, (response.status_code, response.text)
    detail = response.json()["detail"]
    return bool(detail)


def test_database_down_api_answers_503_and_recovers_and_running_jobs_are_kept(
    stack: Stack, observe: Any
) -> None:
    api = stack.client()
    running = [submit(api, "sleep", LONG), submit(api, "sleep", LONG)]
    queued = [submit(api, "echo", {"message": str(n)}) for n in range(8)]
    wait_until(lambda: both_running_for_a_while(set(running)), timeout=30)

    stack.database_proxy.cut()
    cut_at = time.monotonic()
    try:
        # Answers that need SQL are 503; a job's own state still comes from Redis.
        assert is_503_with_detail(api.get("/jobs"))
        assert is_503_with_detail(api.post("/tools/echo/jobs", json={"inputs": {"message": "x"}}))
        login = httpx.post(
            f"{stack.api_url}/api/v1/login/access-token",
            data={"username": "nobody@example.com", "password": "wrong-password"},
        )
        assert is_503_with_detail(login)
        ready = httpx.get(f"{stack.api_url}/api/v1/health/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"] != "ok"
        assert api.get(f"/jobs/{running[0]}").status_code == 200
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - cut_at)))
    finally:
        stack.database_proxy.restore()
    restored_at = time.monotonic()

    def answers() -> bool:
        return api.get("/jobs").status_code == 200

    wait_until(answers, timeout=10, interval=0.1)
    recovered_after = time.monotonic() - restored_at
    counts = wait_until(lambda: all_ended(10), timeout=30, interval=0.2)
    assert counts == {"succeeded": 10}, counts
    for job_id in running:
        assert (job_row(job_id).state, job_row(job_id).attempt) == (JobState.succeeded, 1)
    assert api.post("/tools/echo/jobs", json={"inputs": {"message": "back"}}).status_code == 202
    api.close()
    observe(
        f"database cut {OUTAGE_SECONDS}s: lists, submits, login 503 with a detail, ready "
        f"503 naming the database; the API answered again {recovered_after:.1f}s after "
        f"it was back; {counts} ({len(running)} ran through the outage, "
        f"{len(queued)} waited)"
    )
