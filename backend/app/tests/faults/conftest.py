"""A private stack for fault injection: its own Redis server, a real uvicorn API, a
worker and beat, with PostgreSQL and the broker reached through TCP proxies that a test
can cut and restore. Nothing here touches the Redis or ports the rest of the suite uses.

Every fault test gets the running stack; each starts from a live worker, open proxies
and an empty hot state, whatever the test before it broke.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import func, make_url, select

from app.db.session import SessionLocal
from app.models.job import Job, JobState
from tests.conftest import (
    PROJECT_DIR,
    TEST_DATABASE_URL,
    auth,
    kill_worker,
    make_user,
    start_beat,
    start_worker,
    stop,
    wait_until,
)

# Ports of the fault stack (6395-6399 and 15432-15439 are reserved for it).
REDIS_PORT = 6395
BROKER_PROXY_PORT = 6396
DATABASE_PROXY_PORT = 15432
API_PORT = 15439

# Periods short enough that each case ends in seconds. Heartbeats come seldom enough
# that a reaper trusting missing heartbeats right after Redis lost them would act on it.
STACK_SETTINGS = {
    "HEARTBEAT_INTERVAL_SECONDS": "1.5",
    "WORKER_LOST_AFTER_SECONDS": "4",
    "REAPER_INTERVAL_SECONDS": "0.5",
    "RESEND_INTERVAL_SECONDS": "1",
    "RESEND_QUEUED_AFTER_SECONDS": "2",
    # Two pools (API, worker children) within PostgreSQL's 100 connections, beside
    # other test runs on the same server.
    "DATABASE_POOL_SIZE": "10",
    "DATABASE_MAX_OVERFLOW": "10",
}
TERMINAL = {"succeeded", "failed", "cancelled"}


class ProxyProcess:
    """A TcpProxy (tests/faults/proxy.py) in a process of its own, so that forwarding
    the stack's traffic competes with neither the test's clients nor its GIL."""

    def __init__(self, port: int, upstream_port: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.faults.proxy", str(port), str(upstream_port)],
            cwd=PROJECT_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._command("restore")

    def cut(self) -> None:
        self._command("cut")

    def stall(self) -> None:
        self._command("stall")

    def restore(self) -> None:
        self._command("restore")

    def close(self) -> None:
        stop(self.process)

    def _command(self, command: str) -> None:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        assert self.process.stdout.readline().strip() == "ok", f"proxy: {command} failed"


class RedisServer:
    """A private redis-server without persistence: a restart comes back empty."""

    def __init__(self, port: int, directory: Path) -> None:
        self.port = port
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"],
                *["--save", "", "--appendonly", "no", "--dir", str(self.directory)],
                *["--loglevel", "warning"],
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_until(self._answers, timeout=10)

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis(port=self.port, db=db, socket_timeout=5)

    def _answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.ConnectionError:
            return False


@dataclass
class Stack:
    env: dict[str, str]
    api_url: str
    redis: RedisServer
    database_proxy: ProxyProcess
    broker_proxy: ProxyProcess
    worker: subprocess.Popen[bytes] | None = None
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_worker(self) -> None:
        self.worker = start_worker(env=self.env)

    def stop_worker(self) -> None:
        if self.worker is not None:
            stop(self.worker)
            self.worker = None

    def kill_worker(self) -> None:
        if self.worker is not None:
            kill_worker(self.worker)
            self.worker = None

    def client(self, email: str | None = None) -> httpx.Client:
        """An HTTP client of the API for a new user."""
        token = make_user(email or f"{uuid.uuid4()}@example.com", password=None)
        return httpx.Client(base_url=f"{self.api_url}/api/v1", headers=auth(token), timeout=30)

    def api_answers(self) -> bool:
        try:
            return httpx.get(f"{self.api_url}/api/v1/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False


def proxied_database_url() -> str:
    return (
        make_url(TEST_DATABASE_URL)
        .set(host="127.0.0.1", port=DATABASE_PROXY_PORT)
        .render_as_string(hide_password=False)
    )


@pytest.fixture(scope="package")
def stack(database: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("fault-stack")
    redis_server = RedisServer(REDIS_PORT, folder)
    redis_server.start()
    broker_proxy = ProxyProcess(BROKER_PROXY_PORT, REDIS_PORT)
    database_proxy = ProxyProcess(DATABASE_PROXY_PORT, make_url(TEST_DATABASE_URL).port or 5432)
    env = {
        **STACK_SETTINGS,
        "DATABASE_URL": proxied_database_url(),
        "REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}/0",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{BROKER_PROXY_PORT}/1",
    }
    running = Stack(
        env=env,
        api_url=f"http://127.0.0.1:{API_PORT}",
        redis=redis_server,
        database_proxy=database_proxy,
        broker_proxy=broker_proxy,
    )
    try:
        # The API and beat start while the worker does (each takes seconds to import).
        running.processes.append(
            subprocess.Popen(
                [
                    *[sys.executable, "-m", "uvicorn", "app.main:app"],
                    *["--host", "127.0.0.1", "--port", str(API_PORT), "--log-level", "warning"],
                ],
                cwd=PROJECT_DIR,
                env={**os.environ, **env},
            )
        )
        running.processes.append(start_beat(folder / "beat-schedule", env))
        running.start_worker()
        wait_until(running.api_answers, timeout=60, interval=0.2)
        yield running
    finally:
        running.stop_worker()
        for process in running.processes:
            stop(process)
        broker_proxy.close()
        database_proxy.close()
        redis_server.kill()


@pytest.fixture(autouse=True)
def healthy_stack(stack: Stack) -> Iterator[None]:
    """Each test starts from a whole stack and an empty hot state, and leaves one."""
    yield
    stack.database_proxy.restore()
    stack.broker_proxy.restore()
    if stack.redis.process is None:
        stack.redis.start()
    if stack.worker is None or stack.worker.poll() is not None:
        stack.start_worker()
    stack.redis.client(db=0).flushdb()


# What each case saw, shown at the end of the run for the closing note of issue 7.
OBSERVED: list[str] = []


@pytest.fixture
def observe(request: pytest.FixtureRequest) -> Callable[[str], None]:
    started = time.monotonic()

    def record(what: str) -> None:
        OBSERVED.append(f"{request.node.name} ({time.monotonic() - started:.1f}s): {what}")

    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if OBSERVED:
        terminalreporter.section("fault cases observed")
        for line in OBSERVED:
            terminalreporter.write_line(line)


def count_jobs() -> dict[str, int]:
    """Jobs by state as PostgreSQL has them, failures also by error type
    (`failed:worker_lost`)."""
    with SessionLocal() as session:
        rows = session.execute(
            select(Job.state, Job.error["type"].as_string(), func.count()).group_by(
                Job.state, Job.error["type"].as_string()
            )
        ).all()
    counts: dict[str, int] = {}
    for state, error_type, number in rows:
        counts[state.value] = counts.get(state.value, 0) + number
        if state is JobState.failed:
            counts[f"failed:{error_type}"] = number
    return counts


def all_ended(expected: int) -> dict[str, int] | None:
    """The counts once `expected` jobs exist and every one is terminal."""
    counts = count_jobs()
    ended = sum(counts.get(state, 0) for state in TERMINAL)
    return counts if ended == expected == sum(counts.get(s.value, 0) for s in JobState) else None
