"""Waiting on jobs (`?wait=`, and the SSE stream built on the same updates): every
request of an API process shares its one Redis subscription."""

import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.models.job import JobState
from app.schemas.job import JobRead
from app.services.use_cases import job_waiting
from app.worker.redis_db import jobs as hot_jobs
from app.worker.redis_db import keys
from app.worker.redis_db.connection import client as redis_client
from app.worker.redis_db.follower import RedisFollower
from tests.support.environment import REDIS_DB
from tests.support.job_api import submit_tool_job
from tests.support.waiting import wait_until

WAITERS = 8


def subscriber_ids() -> set[str]:
    """This suite's subscriptions: others on the server (another run, another xdist
    process) use other Redis databases."""
    subscribers = redis_client().client_list(_type="pubsub")
    return {subscriber["id"] for subscriber in subscribers if int(subscriber["db"]) == REDIS_DB}


def pubsub_connections() -> int:
    return len(subscriber_ids())


def test_waiters_share_one_subscription_and_all_hear_the_end(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    # No worker runs here: the job stays queued until it is cancelled.
    job = submit_tool_job(client, user_headers, "echo", {"message": "hi"})
    job_id = uuid.UUID(job["id"])
    wait_until(lambda: pubsub_connections() >= 1)
    before = pubsub_connections()

    def wait() -> tuple[dict[str, Any], float]:
        started = time.monotonic()
        response = client.get(f"/api/v1/jobs/{job['id']}?wait=30", headers=user_headers)
        return response.json(), time.monotonic() - started

    with ThreadPoolExecutor(WAITERS) as pool:
        waits = [pool.submit(wait) for _ in range(WAITERS)]
        wait_until(lambda: len(job_waiting._waiters.get(job_id, ())) == WAITERS)
        assert pubsub_connections() == before
        cancelled = client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=user_headers)
        assert cancelled.status_code == 200
        answers = [future.result(timeout=30) for future in waits]

    assert [body["state"] for body, _ in answers] == ["cancelled"] * WAITERS
    # Told by the message, not by reading the snapshot again.
    assert max(seconds for _, seconds in answers) < job_waiting.RESYNC_SECONDS / 2
    assert job_waiting._waiters == {}


def channel_subscribers(job_id: uuid.UUID) -> int:
    channel = keys.job_channel(job_id)
    return int(dict(redis_client().pubsub_numsub(channel))[channel.encode()])


def test_a_job_channel_is_followed_only_while_a_request_waits_on_the_job(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    job = submit_tool_job(client, user_headers, "echo", {"message": "hi"})
    job_id = uuid.UUID(job["id"])
    # Nobody waits: this API process hears nothing of the job (no pattern either).
    assert channel_subscribers(job_id) == 0

    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(client.get, f"/api/v1/jobs/{job_id}?wait=30", headers=user_headers)
        wait_until(lambda: channel_subscribers(job_id) == 1)
        assert client.post(f"/api/v1/jobs/{job_id}/cancel", headers=user_headers).status_code == 200
        response = waiting.result(timeout=30)

    assert response.json()["state"] == "cancelled"
    wait_until(lambda: channel_subscribers(job_id) == 0)


def test_a_lost_subscription_is_made_again_with_the_channels_of_waited_jobs(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    job = submit_tool_job(client, user_headers, "echo", {"message": "hi"})
    job_id = uuid.UUID(job["id"])

    with ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        waiting = pool.submit(client.get, f"/api/v1/jobs/{job_id}?wait=30", headers=user_headers)
        wait_until(lambda: channel_subscribers(job_id) == 1)
        killed = subscriber_ids()
        for subscriber_id in killed:
            redis_client().client_kill_filter(_id=subscriber_id)
        wait_until(lambda: bool(subscriber_ids()) and not subscriber_ids() & killed)
        wait_until(lambda: channel_subscribers(job_id) == 1)
        assert client.post(f"/api/v1/jobs/{job_id}/cancel", headers=user_headers).status_code == 200
        response = waiting.result(timeout=30)

    assert response.json()["state"] == "cancelled"
    # Told by the message on the channel followed again, not by reading the snapshot again.
    assert time.monotonic() - started < job_waiting.RESYNC_SECONDS


def test_a_waiter_does_not_wait_for_a_follower_without_a_connection(
    client: TestClient, user_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    job = JobRead.model_validate(submit_tool_job(client, user_headers, "echo", {"message": "hi"}))
    # Not started, as while it reconnects to Redis: no confirmation would come.
    unconnected = RedisFollower(
        on_job_message=job_waiting.deliver,
        on_job_followed=job_waiting.followed,
        on_invalidation=lambda _: None,
        on_follow=lambda _: None,
    )
    monkeypatch.setattr(job_waiting, "_follower", unconnected)

    async def first_update() -> float:
        started = time.monotonic()
        async for _ in job_waiting.job_updates(job, timeout_seconds=10):
            break
        return time.monotonic() - started

    assert asyncio.run(first_update()) < job_waiting.FOLLOW_WAIT_SECONDS / 2


def test_a_missed_message_is_made_up_by_reading_the_snapshot_again(
    client: TestClient, user_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(job_waiting, "RESYNC_SECONDS", 0.2)
    job = submit_tool_job(client, user_headers, "echo", {"message": "hi"})
    ended = JobRead.model_validate(
        {**job, "state": JobState.failed, "updated_at": "2099-01-01T00:00:00Z"}
    )

    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(client.get, f"/api/v1/jobs/{job['id']}?wait=30", headers=user_headers)
        wait_until(lambda: uuid.UUID(job["id"]) in job_waiting._waiters)
        # A transition whose message was lost: in Redis, never published.
        hot_jobs.save_job(ended, publish=False)
        started = time.monotonic()
        response = waiting.result(timeout=30)

    assert time.monotonic() - started < 5
    assert response.json()["state"] == "failed"


def test_a_message_sent_before_the_snapshot_was_read_is_not_news(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    job = JobRead.model_validate(submit_tool_job(client, user_headers, "echo", {"message": "hi"}))
    ended = job.model_copy(update={"state": JobState.cancelled, "updated_at": datetime.now(UTC)})

    async def follow() -> list[JobRead]:
        seen = []
        async for current in job_waiting.job_updates(job, timeout_seconds=10):
            seen.append(current)
            if len(seen) == 1:
                # What the follower thread may hand over late: the snapshot already read.
                job_waiting.deliver(job.id, job.model_dump_json().encode())
                job_waiting.deliver(job.id, ended.model_dump_json().encode())
        return seen

    assert [current.state for current in asyncio.run(follow())] == ["queued", "cancelled"]
