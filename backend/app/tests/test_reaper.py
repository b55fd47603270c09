"""Running jobs whose worker vanished are retried or failed, never left running."""

import time

import pytest
from fastapi.testclient import TestClient

from app.core.config import settings
from app.db.session import SessionLocal
from app.models.job import Job, JobState
from app.worker import tasks
from app.worker.redis_db import heartbeats, keys
from app.worker.redis_db import jobs as hot_jobs
from app.worker.redis_db.connection import client as redis_client
from tests.support.jobs import heartbeats_complete, job_row, run_job_here, running_job
from tests.support.waiting import wait_until

pytestmark = pytest.mark.usefixtures("heartbeats_trusted")


@pytest.fixture
def heartbeats_trusted() -> None:
    heartbeats_complete()


def test_job_without_heartbeat_and_no_attempts_left_fails_as_worker_lost() -> None:
    job_id = running_job(attempt=1, max_attempts=1, started_seconds_ago=10)
    assert tasks.reap_lost_jobs() == 1
    job = job_row(job_id)
    assert job.state is JobState.failed
    assert job.error is not None
    assert job.error["type"] == "worker_lost"
    assert job.finished_at is not None
    snapshot = hot_jobs.load_job(job_id)
    assert snapshot is not None
    assert snapshot.state is JobState.failed


def test_no_job_is_reaped_while_redis_may_have_lost_the_heartbeats() -> None:
    """Redis restarted or flushed a moment ago: live workers have not beaten since."""
    job_id = running_job(attempt=1, max_attempts=1, started_seconds_ago=10)
    redis_client().flushdb()
    assert tasks.reap_lost_jobs() == 0
    assert job_row(job_id).state is JobState.running
    heartbeats_complete()
    assert tasks.reap_lost_jobs() == 1


def test_redelivery_does_not_take_a_job_over_while_redis_may_have_lost_its_heartbeat() -> None:
    job_id = running_job(attempt=1, max_attempts=2, started_seconds_ago=10)
    redis_client().flushdb()
    run_job_here(job_id)
    job = job_row(job_id)
    assert (job.state, job.attempt) == (JobState.running, 1)
    assert redis_client().exists(keys.heartbeat(job_id)) == 0


def test_job_with_a_live_heartbeat_is_left_alone() -> None:
    job_id = running_job(attempt=1, max_attempts=1, started_seconds_ago=10)
    heartbeats.beat_heart(job_id)
    assert tasks.reap_lost_jobs() == 0
    assert job_row(job_id).state is JobState.running


def test_job_started_moments_ago_is_left_alone() -> None:
    job_id = running_job(attempt=1, max_attempts=1, started_seconds_ago=0)
    assert tasks.reap_lost_jobs() == 0
    assert job_row(job_id).state is JobState.running


@pytest.mark.usefixtures("worker")
def test_job_with_attempts_left_is_run_again_by_a_worker(client: TestClient) -> None:
    job_id = running_job(attempt=1, max_attempts=2, started_seconds_ago=10)
    assert tasks.reap_lost_jobs() == 1
    job = wait_until(lambda: (j := job_row(job_id)).state.is_terminal and j, timeout=30)
    assert job.state is JobState.succeeded
    assert job.attempt == 2


def test_redelivered_job_with_no_attempts_left_fails_as_worker_lost() -> None:
    """What a worker does when the broker hands it a job whose previous worker died."""
    job_id = running_job(
        attempt=1, max_attempts=1, started_seconds_ago=settings.WORKER_LOST_AFTER_SECONDS + 1
    )
    run_job_here(job_id)
    job = job_row(job_id)
    assert job.state is JobState.failed
    assert job.error is not None
    assert job.error["type"] == "worker_lost"


def test_second_of_two_simultaneous_deliveries_leaves_the_job_to_the_first() -> None:
    """Two deliveries of a queued job at once: the other took it a moment ago and may not
    have beaten its heart yet (that beat goes with the mirror of the start). As the
    reaper does, this delivery gives it the whole lost-worker window, and leaves no
    heart of its own behind."""
    job_id = running_job(attempt=1, max_attempts=2, started_seconds_ago=0)
    run_job_here(job_id)
    job = job_row(job_id)
    assert (job.state, job.attempt) == (JobState.running, 1)
    assert redis_client().exists(keys.heartbeat(job_id)) == 0


def test_duplicate_delivery_of_a_job_another_worker_runs_is_ignored() -> None:
    job_id = running_job(attempt=1, max_attempts=1, started_seconds_ago=0)
    heartbeats.beat_heart(job_id)
    key = keys.heartbeat(job_id)
    beat_before = redis_client().get(key)
    time.sleep(0.05)  # so that a beat of the duplicate would differ
    run_job_here(job_id)
    job = job_row(job_id)
    assert (job.state, job.attempt) == (JobState.running, 1)
    # Left as the other worker left it: if that worker is dead, the reaper's clock runs
    # from its last beat, not from this delivery.
    assert redis_client().get(key) == beat_before
    assert 0 < redis_client().pttl(key) <= 1000 * (settings.WORKER_LOST_AFTER_SECONDS + 1)


def test_outputs_that_fail_the_tools_model_end_invalid_output() -> None:
    """Run in this process, as a worker would, for a tool that returns the wrong shape."""
    job_id = running_job(attempt=0, max_attempts=1, started_seconds_ago=0)
    with SessionLocal() as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.state, job.tool, job.inputs = JobState.queued, "bad-output", {"message": "x"}
        session.commit()
    run_job_here(job_id)
    ended = job_row(job_id)
    assert ended.state is JobState.failed
    assert ended.error is not None
    assert ended.error["type"] == "invalid_output"
    assert "message" in ended.error["message"]
