"""Running jobs whose worker vanished are retried or failed, never left running."""

import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from app.crud import job as job_crud
from app.crud.user import get_user_by_email
from app.db.base_class import utcnow
from app.db.session import SessionLocal
from app.models.job import Job, JobState
from app.services import execution
from app.worker import redis_db
from tests.conftest import make_user, wait_until


def running_job(*, attempt: int, max_attempts: int, started_seconds_ago: float) -> uuid.UUID:
    """A job that a worker took and then, as far as the heartbeat shows, dropped."""
    make_user("user@example.com")
    with SessionLocal() as session:
        user = get_user_by_email(session, "user@example.com")
        assert user is not None
        job = job_crud.create_job(
            session,
            Job(
                owner_id=user.id,
                tool="echo",
                tool_version="1.0.0",
                inputs={"message": "again"},
                state=JobState.running,
                attempt=attempt,
                max_attempts=max_attempts,
                started_at=utcnow() - timedelta(seconds=started_seconds_ago),
            ),
        )
        session.commit()
        return job.id


def state_of(job_id: uuid.UUID) -> Job:
    with SessionLocal() as session:
        job = job_crud.get_job(session, job_id)
        assert job is not None
        return job


def test_job_without_heartbeat_and_no_attempts_left_fails_as_worker_lost() -> None:
    job_id = running_job(attempt=1, max_attempts=1, started_seconds_ago=10)
    assert execution.reap_lost_jobs() == 1
    job = state_of(job_id)
    assert job.state is JobState.failed
    assert job.error is not None
    assert job.error["type"] == "worker_lost"
    assert job.finished_at is not None
    snapshot = redis_db.load_job(job_id)
    assert snapshot is not None
    assert snapshot.state is JobState.failed


def test_job_with_a_live_heartbeat_is_left_alone() -> None:
    job_id = running_job(attempt=1, max_attempts=1, started_seconds_ago=10)
    redis_db.beat_heart(job_id)
    assert execution.reap_lost_jobs() == 0
    assert state_of(job_id).state is JobState.running


def test_job_started_moments_ago_is_left_alone() -> None:
    job_id = running_job(attempt=1, max_attempts=1, started_seconds_ago=0)
    assert execution.reap_lost_jobs() == 0
    assert state_of(job_id).state is JobState.running


@pytest.mark.usefixtures("worker")
def test_job_with_attempts_left_is_run_again_by_a_worker(client: TestClient) -> None:
    job_id = running_job(attempt=1, max_attempts=2, started_seconds_ago=10)
    assert execution.reap_lost_jobs() == 1
    job = wait_until(lambda: (j := state_of(job_id)).state.is_terminal and j, timeout=30)
    assert job.state is JobState.succeeded
    assert job.attempt == 2


def test_redelivered_job_with_no_attempts_left_fails_as_worker_lost() -> None:
    """What a worker does when the broker hands it a job whose previous worker died."""
    job_id = running_job(attempt=1, max_attempts=1, started_seconds_ago=0)
    execution.execute_job(job_id)
    job = state_of(job_id)
    assert job.state is JobState.failed
    assert job.error is not None
    assert job.error["type"] == "worker_lost"


def test_duplicate_delivery_of_a_job_another_worker_runs_is_ignored() -> None:
    job_id = running_job(attempt=1, max_attempts=1, started_seconds_ago=0)
    redis_db.beat_heart(job_id)
    execution.execute_job(job_id)
    job = state_of(job_id)
    assert (job.state, job.attempt) == (JobState.running, 1)
