"""Redis loses everything under load (FLUSHALL, or a restart without persistence): no
accepted job is lost. The API answers from PostgreSQL meanwhile, the hot state is
rebuilt, queued jobs the broker lost are sent again, and running jobs are not taken for
lost merely because their heartbeats vanished with the rest."""

import time
import uuid
from typing import Any

import httpx

from app.models.job import JobState
from app.worker.redis_db import keys
from tests.support.fault_jobs import all_ended, both_running_for_a_while, submit
from tests.support.fault_stack import STACK_SETTINGS, Stack
from tests.support.jobs import job_row
from tests.support.waiting import wait_until

# The fault comes once the long job ran past the lost-worker window (only then may the
# reaper look at it) and just after its heartbeat, so that the heartbeat stays missing
# for most of an interval; the job runs on well past the window.
WINDOW = float(STACK_SETTINGS["WORKER_LOST_AFTER_SECONDS"])
LONG = {"seconds": 2 * WINDOW + 2, "steps": 10}
# On the other slot, which stays free often enough for beat's housekeeping tasks.
MEDIUM = {"seconds": 0.3, "steps": 1}
JOBS = 41


def submit_load(stack: Stack, api: httpx.Client) -> list[uuid.UUID]:
    """The long job first, then the medium ones; returns when the fault may come."""
    long = submit(api, "sleep", LONG)
    medium = [submit(api, "sleep", MEDIUM) for _ in range(JOBS - 1)]
    wait_until(lambda: both_running_for_a_while({long}, WINDOW + 0.5), timeout=30)

    def just_beat() -> bool:
        last = stack.redis.client().get(keys.heartbeat(long))
        return last is not None and time.time() - float(last) < 0.2

    wait_until(just_beat, timeout=5, interval=0.02)
    return [long, *medium]


def queued_in_broker(stack: Stack) -> int:
    broker = stack.redis.client(db=1)
    return sum(int(broker.llen(key)) for key in broker.keys("default*"))


def every_job_answers(api: httpx.Client, jobs: list[uuid.UUID]) -> dict[str, int]:
    states: dict[str, int] = {}
    for job_id in jobs:
        response = api.get(f"/jobs/{job_id}")
        assert response.status_code == 200, response.text
        state = response.json()["state"]
        states[state] = states.get(state, 0) + 1
    return states


def test_redis_flushed_under_load_loses_no_job_and_fails_no_running_one(
    stack: Stack, observe: Any
) -> None:
    api = stack.client()
    jobs = submit_load(stack, api)
    in_broker = queued_in_broker(stack)
    stack.redis.client().flushall()
    flushed_at = time.monotonic()
    # Every read misses Redis and is answered from PostgreSQL (which re-fills Redis).
    seen = every_job_answers(api, jobs)
    counts = wait_until(lambda: all_ended(JOBS), timeout=40, interval=0.2)
    ended_after = time.monotonic() - flushed_at
    assert in_broker >= 10, "the broker held queued jobs, for the flush to lose"
    assert counts == {"succeeded": JOBS}, counts
    assert job_row(jobs[0]).attempt == 1
    assert every_job_answers(api, jobs) == {"succeeded": JOBS}
    api.close()
    observe(
        f"states read back right after FLUSHALL: {seen}; then {counts} ({in_broker} "
        f"messages the broker held were lost and sent again by housekeeping; the job "
        f"running past the heartbeat window kept running), all ended "
        f"{ended_after:.1f}s after the flush"
    )


def test_redis_restarted_under_load_api_answers_from_postgres_and_no_job_is_lost(
    stack: Stack, observe: Any
) -> None:
    api = stack.client()
    jobs = submit_load(stack, api)
    in_broker = queued_in_broker(stack)
    stack.redis.kill()
    down_at = time.monotonic()
    try:
        seen = every_job_answers(api, jobs)
        listed = api.get("/jobs", params={"limit": 200})
        assert listed.status_code == 200, listed.text
        assert len(listed.json()["items"]) == JOBS
        refused = api.post("/tools/echo/jobs", json={"inputs": {"message": "no queue"}})
        assert refused.status_code == 503, refused.text
        assert "detail" in refused.json()
    finally:
        stack.redis.start()
    down_for = time.monotonic() - down_at
    counts = wait_until(lambda: all_ended(JOBS), timeout=40, interval=0.2)
    ended_after = time.monotonic() - down_at
    assert counts == {"succeeded": JOBS}, counts
    assert (job_row(jobs[0]).state, job_row(jobs[0]).attempt) == (JobState.succeeded, 1)
    after = api.post("/tools/echo/jobs", json={"inputs": {"message": "queue back"}})
    assert after.status_code == 202, after.text
    api.close()
    observe(
        f"Redis down {down_for:.1f}s: every job read from PostgreSQL ({seen}), lists "
        f"answered, a submit was 503 and left no row; then {counts} ({in_broker} lost "
        f"messages sent again), all ended {ended_after:.1f}s after Redis went down"
    )
