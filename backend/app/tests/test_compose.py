"""docker-compose.yml: valid, shaped as promised, and its commands run as plain processes.

No Docker engine runs here, so Debian's docker-compose validates the file and the
backend, worker and beat commands it declares run against the test services.
"""

import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from app.models.job import JobState
from tests.support.jobs import job_row, running_job
from tests.support.paths import REPO_ROOT
from tests.support.ports import free_port
from tests.support.processes import stop
from tests.support.users import make_user
from tests.support.waiting import wait_until

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return data


def command_of(service: dict[str, Any]) -> list[str]:
    command = service.get("command", [])
    return shlex.split(command) if isinstance(command, str) else list(command)


def test_compose_file_is_valid() -> None:
    result = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE_FILE), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_exactly_one_beat_and_never_worker_dash_b(compose: dict[str, Any]) -> None:
    services = compose["services"]
    beats = [name for name, service in services.items() if "beat" in command_of(service)]
    assert beats == ["beat"]
    assert services["beat"]["deploy"]["replicas"] == 1
    for service in services.values():
        if "worker" in command_of(service):
            assert "-B" not in command_of(service)
            assert "--beat" not in command_of(service)


def test_everything_waits_for_one_prestart(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert command_of(services["prestart"]) == ["bash", "/app/prestart.sh"]
    assert services["prestart"]["restart"] == "no"
    for name in ("backend", "worker", "beat"):
        condition = services[name]["depends_on"]["prestart"]["condition"]
        assert condition == "service_completed_successfully", name
    for name in ("backend", "worker", "beat", "prestart"):
        assert "prestart.sh" not in " ".join(command_of(services[name])[2:]), name


def test_database_and_redis_are_health_checked(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    assert services["db"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    assert services["backend"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert any("app-db-data" in volume for volume in services["db"]["volumes"])


def image_user(dockerfile: str) -> str:
    lines = (REPO_ROOT / dockerfile).read_text().splitlines()
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    return users[-1] if users else "root"


def test_worker_does_not_run_as_root(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    assert worker.get("user", image_user(worker["build"]["dockerfile"])) not in {"root", "0"}


def test_api_and_worker_share_storage_as_one_user(compose: dict[str, Any]) -> None:
    # The API writes uploads, the worker artifacts and logs, and each deletes the other's.
    services = compose["services"]
    dockerfiles = {services[name]["build"]["dockerfile"] for name in ("backend", "worker")}
    assert {image_user(dockerfile) for dockerfile in dockerfiles} == {"tooljobs"}
    for dockerfile in dockerfiles:
        assert "--uid 1000 tooljobs" in (REPO_ROOT / dockerfile).read_text()
    for name in ("backend", "worker"):
        assert "app-storage:/app/storage" in services[name]["volumes"], name
        assert services[name]["environment"]["STORAGE_DIR"] == "/app/storage", name


def test_flower_only_with_the_monitoring_profile(compose: dict[str, Any]) -> None:
    assert compose["services"]["flower"]["profiles"] == ["monitoring"]


def test_alembic_runs_in_the_backend_image_workdir() -> None:
    dockerfile = (REPO_ROOT / "backend/app/backend.dockerfile").read_text()
    assert "WORKDIR /app" in dockerfile.splitlines()
    assert "COPY backend/app /app" in dockerfile
    assert (REPO_ROOT / "backend/app/alembic.ini").exists()


@pytest.fixture
def compose_processes(
    compose: dict[str, Any], tmp_path: Path
) -> Iterator[tuple[str, list[subprocess.Popen[bytes]]]]:
    """backend, worker and beat, as compose declares them, on this machine's services."""
    port = free_port()
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "REAPER_INTERVAL_SECONDS": "1",
    }
    commands = {
        name: command_of(compose["services"][name]) for name in ("backend", "worker", "beat")
    }
    commands["backend"][commands["backend"].index("--port") + 1] = str(port)
    commands["beat"][commands["beat"].index("--schedule") + 1] = str(tmp_path / "beat-schedule")
    processes = [
        subprocess.Popen(command, env=env, cwd=REPO_ROOT / "backend/app")
        for command in commands.values()
    ]
    yield f"http://127.0.0.1:{port}/api/v1", processes
    for process in processes:
        stop(process)


def test_compose_commands_run_the_stack_as_plain_processes(
    compose_processes: tuple[str, list[subprocess.Popen[bytes]]],
) -> None:
    base, processes = compose_processes

    def api_answers() -> bool:
        assert all(process.poll() is None for process in processes), "a process exited"
        try:
            return httpx.get(f"{base}/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(api_answers, timeout=60, interval=0.3)
    headers = {"Authorization": f"Bearer {make_user('compose@example.com')}"}
    submitted = httpx.post(
        f"{base}/jobs", headers=headers, json={"tool": "echo", "inputs": {"message": "compose"}}
    )
    assert submitted.status_code == 202
    job_url = f"{base}/jobs/{submitted.json()['id']}"
    job = wait_until(
        lambda: (j := httpx.get(job_url, headers=headers).json())["state"] == "succeeded" and j,
        timeout=30,
    )
    assert job["outputs"]["message"] == "compose"
    # Beat's reaper entry reaches the worker: a job whose worker vanished ends failed.
    lost = running_job(attempt=1, max_attempts=1, started_seconds_ago=10)
    wait_until(lambda: job_row(lost).state is JobState.failed, timeout=30)
