"""The fault suite's private stack: its own Redis server, a real uvicorn API, a worker
and beat, with PostgreSQL and the broker reached through TCP proxies that a test can
cut and restore. Nothing here touches the Redis or ports the rest of the suite uses."""

import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis
from sqlalchemy import make_url

from tests.support.environment import TEST_DATABASE_URL
from tests.support.paths import PROJECT_DIR
from tests.support.ports import free_ports
from tests.support.processes import kill_worker, start_api, start_beat, start_worker, stop
from tests.support.users import auth, make_user
from tests.support.waiting import wait_until

# Ports of the fault stack, free when the run starts: two runs (or two xdist workers)
# each get their own stack.
REDIS_PORT, BROKER_PROXY_PORT, DATABASE_PROXY_PORT, API_PORT = free_ports(4)

# Periods short enough that each case ends in seconds. Heartbeats come seldom enough
# that a reaper trusting missing heartbeats right after Redis lost them would act on it.
STACK_SETTINGS = {
    "HEARTBEAT_INTERVAL_SECONDS": "1.5",
    "WORKER_LOST_AFTER_SECONDS": "4",
    "REAPER_INTERVAL_SECONDS": "0.5",
    "RESEND_INTERVAL_SECONDS": "1",
    "RESEND_QUEUED_AFTER_SECONDS": "2",
    # A retry waits 2 to 4 s on the worker that took it (its countdown): long enough for
    # a test to kill that worker meanwhile.
    "RETRY_BACKOFF_SECONDS": "4",
    # Two pools (API, worker children) within PostgreSQL's 100 connections, beside
    # other test runs on the same server.
    "DATABASE_POOL_SIZE": "10",
    "DATABASE_MAX_OVERFLOW": "10",
}


class ProxyProcess:
    """A TcpProxy (tests/support/tcp_proxy.py) in a process of its own, so that
    forwarding the stack's traffic competes with neither the test's clients nor its GIL."""

    def __init__(self, port: int, upstream_port: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.tcp_proxy", str(port), str(upstream_port)],
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
        # Answered by our server, not by one that took the port first.
        assert self.process.poll() is None, f"redis-server could not start on {self.port}"

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
    # The worker's own settings where they differ from the API's and beat's (its broker
    # URL through a proxy of its own, say).
    worker_env: dict[str, str] = field(default_factory=dict)

    @contextmanager
    def running(self, api_port: int, folder: Path) -> Iterator["Stack"]:
        """The stack with its API, beat and worker started; at the end every process
        stopped, the proxies closed and the Redis server killed."""
        try:
            # The API and beat start while the worker does (each takes seconds to import).
            self.processes.append(start_api(api_port, env=self.env))
            self.processes.append(start_beat(folder / "beat-schedule", self.env))
            self.start_worker()
            wait_until(self.api_answers, timeout=60, interval=0.2)
            yield self
        finally:
            self.stop_worker()
            for process in self.processes:
                stop(process)
            self.broker_proxy.close()
            self.database_proxy.close()
            self.redis.kill()

    def start_worker(self, *extra: str) -> None:
        self.worker = start_worker(*extra, env={**self.env, **self.worker_env})

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

    def broker_holds(self) -> dict[str, int]:
        """What the broker holds: each queue's waiting messages (kombu keeps a list per
        priority step) and the messages workers took and have not acknowledged."""
        broker = self.redis.client(db=int(make_url(self.env["CELERY_BROKER_URL"]).database or 0))
        held = {"unacked": int(broker.hlen("unacked"))}
        for key in broker.scan_iter(_type="list"):
            held[key.decode()] = int(broker.llen(key))
        return held

    def api_answers(self) -> bool:
        try:
            return httpx.get(f"{self.api_url}/api/v1/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False


def proxied_database_url(port: int = DATABASE_PROXY_PORT) -> str:
    return (
        make_url(TEST_DATABASE_URL)
        .set(host="127.0.0.1", port=port)
        .render_as_string(hide_password=False)
    )
