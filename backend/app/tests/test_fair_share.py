"""Fair dispatch and the running-jobs quota, with real workers: a light user's job is not
starved by a heavy user's backlog (on Redis and on RabbitMQ), and a user never has more
jobs running than their limit while their other jobs wait and all end."""

import uuid
from collections.abc import Iterator
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from app.core.celery_app import celery_app
from app.core.config import settings
from app.db.base_class import utcnow
from app.db.session import SessionLocal
from app.models.job import Job
from tests.support.broker import send_to
from tests.support.job_api import submit, wait_for_end
from tests.support.processes import start_worker, stop
from tests.support.rabbitmq import RABBITMQ_PORT, amqp_url, own_vhost
from tests.support.waiting import wait_until

API = settings.API_V1_STR
ECHO = {"tool": "echo", "inputs": {"message": "heavy"}}
HEAVY_BACKLOG = 3_000


@pytest.fixture(scope="module")
def rabbitmq_vhost() -> Iterator[str]:
    with own_vhost("fair-share") as vhost:
        yield vhost


@pytest.fixture(params=["redis", "rabbitmq"])
def broker_url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The broker this process sends to and the test's worker reads from; left empty."""
    url = str(settings.broker_url)
    if request.param == "rabbitmq":
        url = amqp_url(RABBITMQ_PORT, request.getfixturevalue("rabbitmq_vhost"))
        send_to(monkeypatch, url)
    celery_app.control.purge()
    yield url
    celery_app.control.purge()


def started_at(job_id: str) -> datetime:
    with SessionLocal() as session:
        job = session.get(Job, uuid.UUID(job_id))
        assert job is not None
        assert job.started_at is not None
        return job.started_at


def heavy_started_between(owner_id: str, after: datetime, until: datetime) -> int:
    with SessionLocal() as session:
        return (
            session.query(Job)
            .filter(
                Job.owner_id == uuid.UUID(owner_id),
                Job.started_at > after,
                Job.started_at <= until,
            )
            .count()
        )


def ended_jobs(owner_id: str) -> int:
    with SessionLocal() as session:
        return (
            session.query(Job)
            .filter(Job.owner_id == uuid.UUID(owner_id), Job.finished_at.is_not(None))
            .count()
        )


def not_started_by(owner_id: str, moment: datetime) -> int:
    with SessionLocal() as session:
        return (
            session.query(Job)
            .filter(Job.owner_id == uuid.UUID(owner_id))
            .filter((Job.started_at.is_(None)) | (Job.started_at > moment))
            .count()
        )


def test_a_light_users_job_overtakes_a_heavy_users_deep_backlog(
    client: TestClient,
    user_headers: dict[str, str],
    other_user_headers: dict[str, str],
    broker_url: str,
) -> None:
    heavy, light = user_headers, other_user_headers
    heavy_id = client.get(f"{API}/users/me", headers=heavy).json()["id"]
    for _ in range(HEAVY_BACKLOG // 1000):
        response = client.post(f"{API}/jobs/batch", headers=heavy, json={"jobs": [ECHO] * 1000})
        assert response.status_code == 202, response.text
    worker = start_worker("--concurrency", "1", env={"CELERY_BROKER_URL": broker_url})
    try:
        # The light job comes while the worker is busy with the heavy backlog.
        wait_until(lambda: ended_jobs(heavy_id) >= 20, timeout=60)
        light_job = submit(client, light).json()["id"]
        # From when the broker has it: how long the submit took is not the broker's doing.
        queued_at = utcnow()
        assert wait_for_end(client, light, light_job)["state"] == "succeeded"
    finally:
        stop(worker)
    light_started = started_at(light_job)
    # Behind it: only what the worker had in hand when it came (a job or two), not the
    # heavy user's backlog, which was still deep when it started.
    overtaking = heavy_started_between(heavy_id, queued_at, light_started)
    left = not_started_by(heavy_id, light_started)
    assert overtaking <= 24, f"{overtaking} heavy jobs started before it, {left} left"
    assert left >= HEAVY_BACKLOG // 2


def running_at_once(owner_id: uuid.UUID) -> int:
    """The most of the owner's jobs that were running at one moment, by the rows' times."""
    with SessionLocal() as session:
        jobs = session.query(Job).filter(Job.owner_id == owner_id).all()
    events = sorted(
        [(job.started_at, 1) for job in jobs if job.started_at is not None]
        + [(job.finished_at, -1) for job in jobs if job.finished_at is not None],
        # An end at the same instant as a start frees its slot first.
        key=lambda event: (event[0], event[1]),
    )
    most = running = 0
    for _, change in events:
        running += change
        most = max(most, running)
    return most


def test_a_user_never_has_more_jobs_running_than_their_limit_and_all_end(
    client: TestClient,
    user_headers: dict[str, str],
    other_user_headers: dict[str, str],
    superuser_headers: dict[str, str],
) -> None:
    limited_id = uuid.UUID(client.get(f"{API}/users/me", headers=user_headers).json()["id"])
    response = client.patch(
        f"{API}/users/{limited_id}", headers=superuser_headers, json={"max_running_jobs": 2}
    )
    assert response.status_code == 200, response.text
    sleep = {"tool": "sleep", "inputs": {"seconds": 0.4, "steps": 1}}
    worker = start_worker("--concurrency", "4", env={"RUNNING_LIMIT_RETRY_SECONDS": "0.2"})
    try:
        limited = [submit(client, user_headers, **sleep).json()["id"] for _ in range(8)]
        others = [submit(client, other_user_headers, **sleep).json()["id"] for _ in range(4)]
        for job_id in limited:
            job = wait_for_end(client, user_headers, job_id)
            # Held back, never failed, and no attempt used by the waits.
            assert (job["state"], job["attempt"]) == ("succeeded", 1)
        for job_id in others:
            assert wait_for_end(client, other_user_headers, job_id)["state"] == "succeeded"
    finally:
        stop(worker)
    assert running_at_once(limited_id) == 2
