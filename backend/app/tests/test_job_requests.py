"""Lifecycle requests that need no worker: cancel and delete queued jobs, idempotency,
ETags, waiting, filters, retention tombstones, re-sending, and a broker that is down."""

import time
import uuid

import pytest
import redis
from fastapi.testclient import TestClient

from app.core.celery_app import celery_app
from app.db.session import SessionLocal
from app.models.job import Job, JobState
from app.worker import tasks
from app.worker.redis_db import keys
from app.worker.redis_db.connection import client as redis_client
from tests.support.broker import close_the_broker
from tests.support.job_api import submit
from tests.support.jobs import ended_long_ago, job_row


def test_cancel_a_queued_job_at_once_then_409(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    job = submit(client, user_headers).json()
    cancelled = client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=user_headers)
    assert cancelled.status_code == 200
    assert (cancelled.json()["state"], cancelled.json()["cancel_requested"]) == ("cancelled", True)
    assert job_row(uuid.UUID(job["id"])).state is JobState.cancelled
    again = client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=user_headers)
    assert again.status_code == 409


def test_cancel_and_delete_someone_elses_job_are_404(
    client: TestClient, user_headers: dict[str, str], other_user_headers: dict[str, str]
) -> None:
    job = submit(client, other_user_headers).json()
    assert client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=user_headers).status_code == 404
    assert client.delete(f"/api/v1/jobs/{job['id']}", headers=user_headers).status_code == 404
    assert job_row(uuid.UUID(job["id"])).state is JobState.queued


def test_delete_only_an_ended_job(client: TestClient, user_headers: dict[str, str]) -> None:
    job = submit(client, user_headers).json()
    url = f"/api/v1/jobs/{job['id']}"
    assert client.delete(url, headers=user_headers).status_code == 409
    client.post(f"{url}/cancel", headers=user_headers)
    assert client.delete(url, headers=user_headers).status_code == 204
    assert client.get(url, headers=user_headers).status_code == 404
    assert client.delete(url, headers=user_headers).status_code == 404


def test_etag_and_if_none_match(client: TestClient, user_headers: dict[str, str]) -> None:
    job = submit(client, user_headers).json()
    url = f"/api/v1/jobs/{job['id']}"
    first = client.get(url, headers=user_headers)
    etag = first.headers["ETag"]
    unchanged = client.get(url, headers={**user_headers, "If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    client.post(f"{url}/cancel", headers=user_headers)
    changed = client.get(url, headers={**user_headers, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag


def test_wait_gives_up_after_the_time_asked(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    job = submit(client, user_headers).json()
    started = time.monotonic()
    waited = client.get(f"/api/v1/jobs/{job['id']}", headers=user_headers, params={"wait": 1})
    assert 0.9 < time.monotonic() - started < 5
    assert waited.json()["state"] == "queued"
    too_long = client.get(f"/api/v1/jobs/{job['id']}", headers=user_headers, params={"wait": 61})
    assert too_long.status_code == 422


def test_same_idempotency_key_and_body_replays_the_job(
    client: TestClient, user_headers: dict[str, str], other_user_headers: dict[str, str]
) -> None:
    keyed = {**user_headers, "Idempotency-Key": "order-42"}
    first = client.post(
        "/api/v1/jobs", headers=keyed, json={"tool": "echo", "inputs": {"message": "hi"}}
    )
    again = client.post(
        "/api/v1/jobs", headers=keyed, json={"tool": "echo", "inputs": {"message": "hi"}}
    )
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["id"] == first.json()["id"]
    typed = client.post(
        "/api/v1/tools/echo/jobs", headers=keyed, json={"inputs": {"message": "hi"}}
    )
    assert typed.json()["id"] == first.json()["id"]
    different = client.post(
        "/api/v1/jobs", headers=keyed, json={"tool": "echo", "inputs": {"message": "other"}}
    )
    assert different.status_code == 409
    # Keys belong to their user.
    theirs = client.post(
        "/api/v1/jobs",
        headers={**other_user_headers, "Idempotency-Key": "order-42"},
        json={"tool": "echo", "inputs": {"message": "hi"}},
    )
    assert theirs.status_code == 202
    assert theirs.json()["id"] != first.json()["id"]


def test_list_filters_by_label_and_creation_time(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    a = submit(client, user_headers, labels={"project": "a"}).json()
    b = submit(client, user_headers, labels={"project": "b", "team": "x"}).json()

    def ids(**params: str) -> list[str]:
        page = client.get("/api/v1/jobs", headers=user_headers, params=params).json()
        return [item["id"] for item in page["items"]]

    assert ids(label="project:a") == [a["id"]]
    assert ids(label="team:x") == [b["id"]]
    assert ids(label="team:y") == []
    assert ids(created_after=a["created_at"]) == [b["id"]]
    assert ids(created_before=b["created_at"]) == [a["id"]]
    bad = client.get("/api/v1/jobs", headers=user_headers, params={"label": "no-colon"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "label"]


def test_callback_url_must_be_http(client: TestClient, user_headers: dict[str, str]) -> None:
    response = submit(client, user_headers, callback_url="file:///etc/passwd")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:2] == ["body", "callback_url"]


def test_retention_purges_old_jobs_and_their_ids_answer_410(
    client: TestClient, user_headers: dict[str, str], other_user_headers: dict[str, str]
) -> None:
    old = submit(client, user_headers).json()
    recent = submit(client, user_headers).json()
    ended_long_ago(uuid.UUID(old["id"]))
    assert tasks.purge_expired_jobs() == 1
    gone = client.get(f"/api/v1/jobs/{old['id']}", headers=user_headers)
    assert gone.status_code == 410
    # To anyone else it never existed.
    assert client.get(f"/api/v1/jobs/{old['id']}", headers=other_user_headers).status_code == 404
    assert client.get(f"/api/v1/jobs/{recent['id']}", headers=user_headers).status_code == 200


def queue_length(queue: str = "default") -> int:
    broker = redis.Redis.from_url(celery_app.conf.broker_url)
    return sum(int(broker.llen(key)) for key in broker.keys(f"{queue}*"))


def test_jobs_the_broker_never_got_are_sent_again(
    client: TestClient, user_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.core.config import settings

    monkeypatch.setattr(settings, "RESEND_QUEUED_AFTER_SECONDS", 0.1)
    sent = submit(client, user_headers).json()
    unsent = submit(client, user_headers).json()
    # As if the API had stopped between its commit and the send.
    redis_client().hdel(keys.job(uuid.UUID(unsent["id"])), "sent")
    before = queue_length()
    time.sleep(0.2)
    assert tasks.resend_unsent_jobs() == 1
    assert queue_length() == before + 1
    assert tasks.resend_unsent_jobs() == 0
    assert sent["id"] != unsent["id"]


def test_broker_down_at_submit_is_503_and_keeps_no_job(
    client: TestClient, user_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    close_the_broker(monkeypatch)
    started = time.monotonic()
    response = submit(client, user_headers)
    assert response.status_code == 503
    assert "nothing was submitted" in response.json()["detail"]
    assert time.monotonic() - started < 15
    with SessionLocal() as session:
        assert session.query(Job).count() == 0
