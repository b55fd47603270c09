"""Real PostgreSQL, Redis and Celery worker processes for the whole suite.

The suite uses its own database (`tooljobs_test`, built with `alembic upgrade head`)
and its own Redis databases, never the ones `make run` uses: tests/support/environment.py
sets them, as a pytest plugin loaded before this file.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis
from alembic import command
from alembic.config import Config
from fastapi.testclient import TestClient
from kombu.pidbox import Mailbox
from sqlalchemy import text

from app.core.celery_app import celery_app
from app.core.security import (
    create_access_token,
    hash_password,
    user_id_from_token,
)
from app.core.storage import storage
from app.crud import artifact as artifact_crud
from app.crud import job as job_crud
from app.crud import user as user_crud
from app.db.base_class import utcnow
from app.db.init_db import create_database_if_missing
from app.db.session import SessionLocal, engine
from app.main import app
from app.models.artifact import Artifact
from app.models.job import Job, JobState
from app.schemas.user import Principal
from app.services import api_keys as api_key_service
from app.services.storage_keys import artifact_key
from app.worker import redis_db
from tests.support.environment import TEST_DATABASE_URL
from tests.support.paths import PROJECT_DIR
from tests.support.paths import REPO_ROOT as REPO_ROOT  # for the tests that import it from here

T = TypeVar("T")


def alembic_config() -> Config:
    return Config(str(PROJECT_DIR / "alembic.ini"))


def drop_database(url: str) -> None:
    from sqlalchemy import create_engine, make_url

    parsed = make_url(url)
    maintenance = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with maintenance.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    maintenance.dispose()


@pytest.fixture(scope="session", autouse=True)
def database() -> Iterator[None]:
    """A fresh database migrated up at the start and down to base at the end."""
    drop_database(TEST_DATABASE_URL)
    create_database_if_missing(TEST_DATABASE_URL)
    command.upgrade(alembic_config(), "head")
    for redis_url in (os.environ["REDIS_URL"], os.environ["CELERY_BROKER_URL"]):
        redis.Redis.from_url(redis_url).flushdb()
    yield
    engine.dispose()
    command.downgrade(alembic_config(), "base")
    engine.dispose()
    drop_database(TEST_DATABASE_URL)
    shutil.rmtree(os.environ["STORAGE_DIR"], ignore_errors=True)


@pytest.fixture(autouse=True)
def clean_state() -> Iterator[None]:
    yield
    with engine.begin() as connection:
        connection.execute(text('TRUNCATE job, "user" CASCADE'))
    redis_db.client().flushdb()
    shutil.rmtree(os.environ["STORAGE_DIR"], ignore_errors=True)


def make_user(
    email: str, *, is_superuser: bool = False, password: str | None = "password-123"
) -> str:
    """A user in the database; returns a bearer token for it. Without a password (no
    slow hash to compute) the user cannot log in, only use the token."""
    hashed_password = "no password" if password is None else hash_password(password)
    with SessionLocal() as session:
        user = user_crud.create_user(
            session, email=email, hashed_password=hashed_password, is_superuser=is_superuser
        )
        session.commit()
        return create_access_token(user.id)


def make_api_key(token: str, name: str = "script") -> str:
    """A new API key of the token's user; returns its secret."""
    user_id = user_id_from_token(token)
    assert user_id is not None
    with SessionLocal() as session:
        owner = Principal(id=user_id, is_active=True, is_superuser=False)
        return api_key_service.create_api_key(session, owner, name)[1]


def ended_job(owner_id: uuid.UUID, artifacts: dict[str, bytes] | None = None) -> uuid.UUID:
    """A succeeded echo job of the owner's, with these artifacts (name: content)."""
    with SessionLocal() as session:
        job = job_crud.create_job(
            session,
            Job(
                owner_id=owner_id,
                tool="echo",
                tool_version="1.0.0",
                inputs={"message": "hi"},
                state=JobState.succeeded,
                outputs={"message": "hi", "payload": None},
                finished_at=utcnow(),
            ),
        )
        kept = []
        for name, content in (artifacts or {}).items():
            stored = storage().write(artifact_key(job.id, name), [content])
            kept.append(
                Artifact(
                    job_id=job.id,
                    name=name,
                    content_type="text/plain",
                    size=stored.size,
                    sha256=stored.sha256,
                )
            )
        artifact_crud.add_artifacts(session, kept)
        session.commit()
        return job.id


def running_job(*, attempt: int, max_attempts: int, started_seconds_ago: float) -> uuid.UUID:
    """A job that a worker took and then, as far as the heartbeat shows, dropped."""
    with SessionLocal() as session:
        owner = user_crud.create_user(
            session, email=f"{uuid.uuid4()}@example.com", hashed_password="not-used"
        )
        job = job_crud.create_job(
            session,
            Job(
                owner_id=owner.id,
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


def heartbeats_complete() -> None:
    """As if Redis had held its data for long: missing heartbeats count at once."""
    redis_db.client().set(redis_db.HOT_STATE_SINCE_KEY, time.time() - 3600)


def job_row(job_id: uuid.UUID) -> Job:
    """The job as PostgreSQL has it."""
    with SessionLocal() as session:
        job = job_crud.get_job(session, job_id)
        assert job is not None
        return job


def submit_tool_job(
    client: TestClient, headers: dict[str, str], tool: str, inputs: dict[str, Any], **options: Any
) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/tools/{tool}/jobs", headers=headers, json={"inputs": inputs, **options}
    )
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_for_state(
    client: TestClient, headers: dict[str, str], job_id: str, state: str
) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        job: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}", headers=headers).json()
        return job if job["state"] == state else None

    return wait_until(reached, timeout=30)


def wait_for_end(client: TestClient, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        job: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}", headers=headers).json()
        return job if job["state"] in {"succeeded", "failed", "cancelled"} else None

    return wait_until(ended, timeout=30)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def user_headers() -> dict[str, str]:
    return auth(make_user("user@example.com"))


@pytest.fixture
def other_user_headers() -> dict[str, str]:
    return auth(make_user("other@example.com"))


@pytest.fixture
def superuser_headers() -> dict[str, str]:
    return auth(make_user("root@example.com", is_superuser=True))


def wait_until(predicate: Callable[[], T], timeout: float = 20, interval: float = 0.05) -> T:
    """Poll until `predicate()` returns something truthy, and return it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"not true within {timeout}s: {predicate}")


def start_worker(*extra: str, env: Mapping[str, str] = {}) -> subprocess.Popen[bytes]:
    """A real `celery worker` process on the test broker (or the CELERY_BROKER_URL in
    `env`, which overrides settings for that process); returns once it answers a ping."""
    environment = {**os.environ, **env}
    process = subprocess.Popen(
        [
            *[sys.executable, "-m", "celery", "-A", "app.core.celery_app", "worker"],
            *["--loglevel", "WARNING", "--concurrency", "2", "--queues", "default"],
            *["--without-gossip", "--without-mingle", "--hostname", f"test-{os.getpid()}@%h"],
            *extra,
        ],
        cwd=PROJECT_DIR,
        env=environment,
    )
    try:
        wait_until(
            lambda: process.poll() is not None or answers_ping(environment["CELERY_BROKER_URL"]),
            60,
        )
    except AssertionError:
        process.kill()
        raise
    assert process.poll() is None, "the worker exited at start"
    return process


def answers_ping(broker_url: str) -> bool:
    """Whether a worker on this broker answers a ping. (The app's own ping publishes
    on the app's broker whatever connection it is given, so a pool-less mailbox.)"""
    mailbox = Mailbox(
        celery_app.conf.control_exchange, type="fanout", accept=["json"], serializer="json"
    )
    with celery_app.connection_for_write(broker_url) as connection:
        return bool(mailbox(connection)._broadcast("ping", {}, reply=True, timeout=0.5))


def start_beat(schedule_file: Path, env: Mapping[str, str] = {}) -> subprocess.Popen[bytes]:
    """A real `celery beat` process; `env` overrides settings (periods, broker) for it."""
    return subprocess.Popen(
        [
            *[sys.executable, "-m", "celery", "-A", "app.core.celery_app", "beat"],
            *["--loglevel", "WARNING", "--schedule", str(schedule_file)],
        ],
        cwd=PROJECT_DIR,
        env={**os.environ, **env},
    )


def pool_processes(worker: subprocess.Popen[bytes]) -> list[int]:
    """The pids of the worker's pool processes (the children that run the tasks)."""
    children = subprocess.run(
        ["pgrep", "-P", str(worker.pid)], capture_output=True, text=True, check=False
    ).stdout.split()
    return [int(pid) for pid in children]


def kill_worker(worker: subprocess.Popen[bytes]) -> None:
    """SIGKILL the worker and its pool processes, as a machine that dies would."""
    for pid in [worker.pid, *pool_processes(worker)]:
        os.kill(pid, signal.SIGKILL)
    worker.wait()


def stop(process: subprocess.Popen[Any]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def worker(database: None) -> Iterator[subprocess.Popen[bytes]]:
    """A worker for the tests of one module; tests without it see jobs stay queued."""
    process = start_worker()
    yield process
    stop(process)
