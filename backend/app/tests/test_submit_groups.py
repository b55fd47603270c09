"""Single submits that wait together are recorded in one INSERT and sent together; each
request still gets its own job, its own replay, or its own refusal.

A group forms while one submit holds the lead: here its INSERT waits on a table lock
held by the test, while the next submits queue up behind it.
"""

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from typing import Any

import httpx
import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import Connection, event, text

from app.core.celery_app import celery_app
from app.db.session import SessionLocal, autocommit_engine, engine
from app.models.job import Job
from app.services import submit_groups
from app.worker.redis_db import jobs as hot_jobs
from tests.support.broker import close_the_broker
from tests.support.job_api import submit
from tests.support.waiting import wait_until


def waiting_submits() -> int:
    # The meeting's own list: what is asserted is that submits wait there, then go as one.
    return len(submit_groups._meeting._waiting)


@contextmanager
def lead_held(client: TestClient, headers: dict[str, str]) -> Iterator[Future[httpx.Response]]:
    """A first submit whose INSERT waits on a lock on the job table until the block ends."""
    with engine.connect() as locker, ThreadPoolExecutor(1) as pool:
        locker.execute(text("LOCK TABLE job IN SHARE MODE"))
        first = pool.submit(submit, client, headers)
        try:
            wait_until(lambda: lock_waiters(locker) == 1)
            yield first
        finally:
            locker.rollback()


def lock_waiters(connection: Connection) -> int:
    """Sessions waiting for a lock on the job table of this database."""
    waiting = connection.scalar(
        text(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'job'::regclass"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
    )
    return int(waiting or 0)


def in_one_group(requests: list[Callable[[], httpx.Response]]) -> list[Future[httpx.Response]]:
    pool = ThreadPoolExecutor(len(requests))
    futures = [pool.submit(request) for request in requests]
    wait_until(lambda: waiting_submits() == len(requests))
    pool.shutdown(wait=False)
    return futures


@contextmanager
def inserts_of_jobs() -> Iterator[list[str]]:
    statements: list[str] = []

    def seen(_: Any, __: Any, statement: str, *args: Any) -> None:
        if statement.startswith("INSERT INTO job "):
            statements.append(statement)

    for each in (engine, autocommit_engine):
        event.listen(each, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        for each in (engine, autocommit_engine):
            event.remove(each, "before_cursor_execute", seen)


def job_count() -> int:
    with SessionLocal() as session:
        return session.query(Job).count()


def queued_messages() -> int:
    broker = redis.Redis.from_url(celery_app.conf.broker_url)
    return sum(int(broker.llen(key)) for key in broker.keys("default*"))


def test_submits_that_wait_together_go_in_one_insert_and_each_gets_its_own_job(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    messages_before = queued_messages()
    inputs = [{"message": f"m{n}"} for n in range(5)]
    with inserts_of_jobs() as inserts:
        with lead_held(client, user_headers) as first:
            group = in_one_group([partial(submit, client, user_headers, inputs=i) for i in inputs])
        responses = [first.result(timeout=30), *(f.result(timeout=30) for f in group)]
    assert [r.status_code for r in responses] == [202] * 6, [r.text for r in responses]
    # The first alone, then the five that waited for it in one.
    assert len(inserts) == 2
    jobs = [r.json() for r in responses]
    assert [job["inputs"]["message"] for job in jobs[1:]] == [i["message"] for i in inputs]
    ids = [uuid.UUID(job["id"]) for job in jobs]
    assert len(set(ids)) == 6 == job_count()
    assert hot_jobs.was_sent(ids) == [True] * 6
    assert queued_messages() == messages_before + 6


def test_a_key_used_twice_in_one_group_gives_both_requests_the_same_job(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    keyed = {**user_headers, "Idempotency-Key": "twice-in-one-group"}
    with lead_held(client, user_headers) as first:
        group = in_one_group([lambda: submit(client, keyed), lambda: submit(client, keyed)])
    responses = [f.result(timeout=30) for f in group]
    assert first.result(timeout=30).status_code == 202
    assert sorted(r.status_code for r in responses) == [200, 202], [r.text for r in responses]
    assert responses[0].json()["id"] == responses[1].json()["id"]
    assert job_count() == 2


def test_a_broker_that_is_down_refuses_the_whole_group_and_keeps_no_job(
    client: TestClient, user_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    close_the_broker(monkeypatch)
    with lead_held(client, user_headers) as first:
        group = in_one_group([lambda: submit(client, user_headers) for _ in range(3)])
    responses = [first.result(timeout=60), *(f.result(timeout=60) for f in group)]
    assert [r.status_code for r in responses] == [503] * 4
    assert all("nothing was submitted" in r.json()["detail"] for r in responses)
    assert job_count() == 0


def test_a_group_admits_no_more_than_the_queued_jobs_limit(
    client: TestClient, user_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.core.config import settings

    monkeypatch.setattr(settings, "MAX_QUEUED_JOBS_PER_USER", 3)
    with lead_held(client, user_headers) as first:
        group = in_one_group([lambda: submit(client, user_headers) for _ in range(4)])
    responses = [f.result(timeout=30) for f in group]
    assert first.result(timeout=30).status_code == 202
    # The first is queued: two of the group fit under the limit, the other two wait.
    assert sorted(r.status_code for r in responses) == [202, 202, 429, 429]
    assert job_count() == 3
