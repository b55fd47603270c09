"""The queued-jobs quota: 429 with Retry-After past it (single, typed and batch submits,
all or nothing), a superuser's override per user, schedules that skip a slot and say
why, and a count that survives Redis losing it. No worker runs here: jobs stay queued."""

import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.core.config import settings
from app.crud import job as job_crud
from app.db.base_class import utcnow
from app.db.session import SessionLocal
from app.models.job import Job, JobState
from app.models.schedule import Schedule
from app.services.fair_share import fair_priority
from app.worker.redis_db import queued_jobs
from app.worker.redis_db.connection import client as redis_client
from app.worker.tasks import dispatch_schedules
from tests.support.job_api import submit

API = settings.API_V1_STR
ECHO = {"tool": "echo", "inputs": {"message": "hi"}}


def batch(client: TestClient, headers: dict[str, str], size: int) -> Any:
    return client.post(f"{API}/jobs/batch", headers=headers, json={"jobs": [ECHO] * size})


def my_id(client: TestClient, headers: dict[str, str]) -> str:
    user_id: str = client.get(f"{API}/users/me", headers=headers).json()["id"]
    return user_id


def queued_in_postgresql(owner_id: str) -> int:
    with SessionLocal() as session:
        return (
            session.query(Job)
            .filter(Job.owner_id == uuid.UUID(owner_id), Job.state == JobState.queued)
            .count()
        )


def assert_queued_limit_answer(response: Any, limit_name: str) -> None:
    assert response.status_code == 429, response.text
    assert int(response.headers["Retry-After"]) > 0
    assert "queued-jobs limit" in response.json()["detail"]
    assert limit_name in response.json()["detail"]


@pytest.fixture
def queued_limit_of_3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "MAX_QUEUED_JOBS_PER_USER", 3)


@pytest.mark.usefixtures("queued_limit_of_3")
def test_a_submit_past_the_queued_limit_is_429_with_retry_after_naming_the_limit(
    client: TestClient, user_headers: dict[str, str], other_user_headers: dict[str, str]
) -> None:
    for _ in range(3):
        assert submit(client, user_headers).status_code == 202
    assert_queued_limit_answer(submit(client, user_headers), "MAX_QUEUED_JOBS_PER_USER")
    typed = client.post(
        f"{API}/tools/echo/jobs", headers=user_headers, json={"inputs": {"message": "x"}}
    )
    assert_queued_limit_answer(typed, "MAX_QUEUED_JOBS_PER_USER")
    assert queued_in_postgresql(my_id(client, user_headers)) == 3
    # The limit is each user's own.
    assert submit(client, other_user_headers).status_code == 202


@pytest.mark.usefixtures("queued_limit_of_3")
def test_a_batch_counts_all_its_jobs_and_is_refused_whole(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    assert batch(client, user_headers, 2).status_code == 202
    assert_queued_limit_answer(batch(client, user_headers, 2), "MAX_QUEUED_JOBS_PER_USER")
    assert queued_in_postgresql(my_id(client, user_headers)) == 2
    assert batch(client, user_headers, 1).status_code == 202
    assert queued_in_postgresql(my_id(client, user_headers)) == 3


@pytest.mark.usefixtures("queued_limit_of_3")
def test_a_job_that_leaves_the_queue_frees_its_place(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    ids = [submit(client, user_headers).json()["id"] for _ in range(3)]
    assert submit(client, user_headers).status_code == 429
    cancelled = client.post(f"{API}/jobs/{ids[0]}/cancel", headers=user_headers)
    assert cancelled.status_code == 200
    assert submit(client, user_headers).status_code == 202
    assert submit(client, user_headers).status_code == 429


@pytest.mark.usefixtures("queued_limit_of_3")
def test_the_count_comes_back_from_postgresql_when_redis_lost_it(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    owner_id = uuid.UUID(my_id(client, user_headers))
    assert submit(client, user_headers).status_code == 202
    with SessionLocal() as session:
        # Queued behind Redis's back: only PostgreSQL knows of them.
        for _ in range(2):
            job_crud.create_job(
                session, Job(owner_id=owner_id, tool="echo", tool_version="1", inputs={})
            )
        session.commit()
    redis_client().flushdb()
    assert submit(client, user_headers).status_code == 429
    assert queued_jobs.counts([owner_id]) == {owner_id: 3}


def test_a_superuser_sets_a_users_own_limits(
    client: TestClient, user_headers: dict[str, str], superuser_headers: dict[str, str]
) -> None:
    user_id = my_id(client, user_headers)
    # Known to the API before the change: the change must reach its cached copy at once.
    assert submit(client, user_headers).status_code == 202
    changed = client.patch(
        f"{API}/users/{user_id}",
        headers=superuser_headers,
        json={"max_queued_jobs": 2, "max_running_jobs": 1},
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["max_queued_jobs"], changed.json()["max_running_jobs"]) == (2, 1)
    listed = client.get(f"{API}/users", headers=superuser_headers).json()
    assert [u["max_queued_jobs"] for u in listed if u["id"] == user_id] == [2]
    assert submit(client, user_headers).status_code == 202
    assert_queued_limit_answer(submit(client, user_headers), "set for you by an admin")
    # 0 is no limit, whatever the setting says.
    client.patch(f"{API}/users/{user_id}", headers=superuser_headers, json={"max_queued_jobs": 0})
    assert batch(client, user_headers, 5).status_code == 202
    # null follows the setting again; only the fields given change.
    back = client.patch(
        f"{API}/users/{user_id}", headers=superuser_headers, json={"max_queued_jobs": None}
    )
    assert (back.json()["max_queued_jobs"], back.json()["max_running_jobs"]) == (None, 1)


def test_only_a_superuser_changes_limits(
    client: TestClient, user_headers: dict[str, str], superuser_headers: dict[str, str]
) -> None:
    user_id = my_id(client, user_headers)
    own = client.patch(f"{API}/users/{user_id}", headers=user_headers, json={"max_queued_jobs": 0})
    assert own.status_code == 403
    assert client.get(f"{API}/users/me", headers=user_headers).json()["max_queued_jobs"] is None
    negative = client.patch(
        f"{API}/users/{user_id}", headers=superuser_headers, json={"max_running_jobs": -1}
    )
    assert negative.status_code == 422
    assert negative.json()["detail"][0]["loc"] == ["body", "max_running_jobs"]
    unknown_field = client.patch(
        f"{API}/users/{user_id}", headers=superuser_headers, json={"is_superuser": True}
    )
    assert unknown_field.status_code == 422
    nobody = client.patch(
        f"{API}/users/{uuid.uuid4()}", headers=superuser_headers, json={"max_queued_jobs": 1}
    )
    assert nobody.status_code == 404


def test_a_schedule_past_the_queued_limit_skips_its_slot_and_says_why(
    client: TestClient,
    user_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "MAX_QUEUED_JOBS_PER_USER", 1)
    schedule = client.post(
        f"{API}/schedules",
        headers=user_headers,
        json={"name": "n", **ECHO, "interval_seconds": 60, "overlap": "allow"},
    ).json()
    assert submit(client, user_headers).status_code == 202
    with SessionLocal() as session:
        row = session.get(Schedule, uuid.UUID(schedule["id"]))
        assert row is not None
        row.next_run_at = utcnow() - timedelta(seconds=1)
        session.commit()
    assert dispatch_schedules() == 0
    after = client.get(f"{API}/schedules/{schedule['id']}", headers=user_headers).json()
    assert after["run_count"] == 0
    assert after["last_skipped_at"] is not None
    assert "queued-jobs limit" in after["last_skip_reason"]
    assert after["next_run_at"] > after["last_skipped_at"]
    triggered = client.post(f"{API}/schedules/{schedule['id']}/trigger", headers=user_headers)
    assert_queued_limit_answer(triggered, "MAX_QUEUED_JOBS_PER_USER")


@pytest.mark.parametrize(
    ("priority", "queued_before", "expected"),
    [(5, 0, 5), (5, 1, 4), (5, 9, 4), (5, 10, 3), (5, 999, 2), (5, 9_999, 1), (5, 10**6, 0)],
)
def test_a_jobs_priority_gives_way_one_step_per_order_of_magnitude_of_its_owners_backlog(
    priority: int, queued_before: int, expected: int
) -> None:
    assert fair_priority(priority, queued_before) == expected
