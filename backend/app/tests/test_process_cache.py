"""Each API process keeps principals and ended jobs in memory, and drops them as soon as
any process publishes that they changed."""

from fastapi.testclient import TestClient
from sqlalchemy import text

from app.db.session import engine
from app.worker.redis_db import caches, keys
from app.worker.redis_db.connection import client as redis_client
from tests.support.users import auth, make_user
from tests.support.waiting import wait_until


def test_an_ended_job_is_served_from_memory_until_a_change_is_published(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    job = client.post(
        "/api/v1/jobs", headers=user_headers, json={"tool": "echo", "inputs": {"message": "hi"}}
    ).json()
    url = f"/api/v1/jobs/{job['id']}"
    assert client.post(f"{url}/cancel", headers=user_headers).json()["state"] == "cancelled"
    ended = client.get(url, headers=user_headers).json()

    # Gone from Redis and PostgreSQL behind the API's back: this process still has it.
    redis_client().delete(keys.job(job["id"]))
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM job WHERE id = :id"), {"id": job["id"]})
    assert client.get(url, headers=user_headers).json() == ended

    # What another process publishes when it deletes or purges a job.
    caches.publish_invalidation(f"job:{job['id']}")
    wait_until(lambda: client.get(url, headers=user_headers).status_code == 404, timeout=5)


def test_a_principal_is_kept_until_a_change_is_published(client: TestClient) -> None:
    headers = auth(make_user("cached@example.com"))
    assert client.get("/api/v1/users/me", headers=headers).status_code == 200
    user_id = client.get("/api/v1/users/me", headers=headers).json()["id"]

    redis_client().delete(keys.principal(user_id))
    with engine.begin() as connection:
        connection.execute(text('DELETE FROM "user" WHERE id = :id'), {"id": user_id})
    assert client.get("/api/v1/jobs", headers=headers).status_code == 200

    caches.publish_invalidation(f"principal:{user_id}")
    wait_until(lambda: client.get("/api/v1/jobs", headers=headers).status_code == 401, timeout=5)


def test_another_users_ended_job_stays_404_when_held_in_memory(
    client: TestClient, user_headers: dict[str, str], other_user_headers: dict[str, str]
) -> None:
    job = client.post(
        "/api/v1/jobs", headers=user_headers, json={"tool": "echo", "inputs": {"message": "hi"}}
    ).json()
    url = f"/api/v1/jobs/{job['id']}"
    client.post(f"{url}/cancel", headers=user_headers)
    assert client.get(url, headers=user_headers).status_code == 200
    assert client.get(url, headers=other_user_headers).status_code == 404
