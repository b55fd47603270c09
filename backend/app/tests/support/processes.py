"""Worker and beat processes: started as `celery` would be, stopped, killed."""

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import httpx
from kombu import Connection
from kombu.pidbox import Mailbox

from app.core.celery_app import celery_app
from tests.support.paths import PROJECT_DIR
from tests.support.ports import free_port
from tests.support.waiting import wait_until


def start_worker(
    *extra: str,
    env: Mapping[str, str] = {},
    output: IO[bytes] | None = None,
    name: str | None = None,
) -> subprocess.Popen[bytes]:
    """A real `celery worker` process on the test broker (or the CELERY_BROKER_URL in
    `env`, which overrides settings for that process), named `name`@host (test-<pid> by
    default); returns once a worker of that name answers a ping. Its stdout and stderr
    go to `output` when given."""
    environment = {**os.environ, **env}
    node = f"{name or f'test-{os.getpid()}'}@{socket.gethostname()}"
    process = subprocess.Popen(
        [
            *[sys.executable, "-m", "celery", "-A", "app.core.celery_app", "worker"],
            *["--loglevel", "WARNING", "--concurrency", "2", "--queues", "default,housekeeping"],
            *["--without-gossip", "--without-mingle", "--hostname", node],
            *extra,
        ],
        cwd=PROJECT_DIR,
        env=environment,
        stdout=output,
        stderr=None if output is None else subprocess.STDOUT,
        # A process group of its own, which a test kills whole, as a machine that dies.
        start_new_session=True,
    )
    try:
        wait_until(
            lambda: (
                process.poll() is not None or answers_ping(environment["CELERY_BROKER_URL"], node)
            ),
            60,
        )
    except AssertionError:
        process.kill()
        raise
    assert process.poll() is None, "the worker exited at start"
    return process


def broker_connection(broker_url: str) -> Connection:
    """A connection to any broker, Redis or RabbitMQ: not the app's, whose transport
    follows the app's own broker URL (app.core.celery_app)."""
    return Connection(broker_url, transport_options=celery_app.conf.broker_transport_options)


def answers_ping(broker_url: str, node: str) -> bool:
    """Whether the worker `node` on this broker answers a ping; at once when it does (the
    wait runs its whole timeout only for an answer that does not come). (The app's own
    ping publishes on the app's broker whatever connection it is given, so a pool-less
    mailbox.)"""
    mailbox = Mailbox(
        celery_app.conf.control_exchange, type="fanout", accept=["json"], serializer="json"
    )
    with broker_connection(broker_url) as connection:
        replies = mailbox(connection)._broadcast(
            "ping", {}, destination=[node], reply=True, timeout=0.5, limit=1
        )
    return any(node in reply for reply in replies)


def start_api(
    port: int, *extra: str, env: Mapping[str, str] = {}, output: IO[bytes] | None = None
) -> subprocess.Popen[bytes]:
    """A real uvicorn API process on 127.0.0.1:`port` (`env` overrides settings for it,
    `extra` uvicorn's options); returns at once: it answers once it has imported the app
    (seconds)."""
    return subprocess.Popen(
        [
            *[sys.executable, "-m", "uvicorn", "app.main:app"],
            *["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            *extra,
        ],
        cwd=PROJECT_DIR,
        env={**os.environ, **env},
        stdout=output,
        stderr=None if output is None else subprocess.STDOUT,
    )


def active_task_ids(broker_url: str) -> set[str]:
    """The ids of the tasks that the workers on this broker have in their pool processes
    (the main process answers even while those are stuck)."""
    mailbox = Mailbox(
        celery_app.conf.control_exchange, type="fanout", accept=["json"], serializer="json"
    )
    with broker_connection(broker_url) as connection:
        replies = mailbox(connection)._broadcast("active", {}, reply=True, timeout=0.5)
    return {task["id"] for reply in replies for tasks in reply.values() for task in tasks}


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
    """SIGKILL the worker's whole process group (the main process and its pool
    processes at once), as a machine that dies would."""
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()


def stop(process: subprocess.Popen[Any]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def api_and_worker(
    env: Mapping[str, str],
    *,
    worker_loglevel: str,
    api_output: IO[bytes],
    worker_output: IO[bytes],
) -> Iterator[str]:
    """A real API (uvicorn at INFO, for its access lines) and a worker with these
    settings, each writing to its file; the API's base URL, once it answers."""
    port = free_port()
    api = start_api(port, "--log-level", "info", env=env, output=api_output)
    worker = None
    try:
        worker = start_worker("--loglevel", worker_loglevel, env=env, output=worker_output)
        url = f"http://127.0.0.1:{port}/api/v1"
        wait_until(lambda: answers(f"{url}/health"), timeout=60, interval=0.2)
        yield url
    finally:
        if worker is not None:
            stop(worker)
        stop(api)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False
