"""The compose files as compose itself merges them, and their commands as plain processes.

No Docker engine runs here: Debian's docker-compose renders the configuration (plain
`docker compose up` reads docker-compose.yml and docker-compose.override.yml; production
names docker-compose.yml alone), and the commands each service declares run on this
machine against the test services.
"""

import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from app.api.security_headers import ALWAYS, PAGE_POLICY
from app.core.config import Settings
from app.models.job import JobState
from tests.support.database import alembic_config, drop_database, scratch_database_url
from tests.support.jobs import job_row, running_job
from tests.support.paths import PROJECT_DIR, REPO_ROOT
from tests.support.ports import free_port
from tests.support.users import make_user
from tests.support.waiting import wait_until

APP_SERVICES = ("prestart", "backend", "worker", "housekeeping", "beat", "flower")
OBJECT_STORAGE = ("minio", "minio-bucket")
SOURCE_MOUNTED = ("prestart", "backend", "worker", "housekeeping", "beat")
APPLICATION_SECRETS = ("SECRET_KEY", "WEBHOOK_SECRET", "FIRST_SUPERUSER_PASSWORD")


def render(*files: str, **variables: str) -> dict[str, Any]:
    """`docker-compose config`: the merged configuration, interpolated from .env and
    `variables` (the shell's, which win over .env's)."""
    options = [arg for name in files for arg in ("-f", name)]
    profiles = ["--profile", "monitoring", "--profile", "s3"]
    result = subprocess.run(
        ["docker-compose", *options, *profiles, "config"],
        cwd=REPO_ROOT,
        env={**os.environ, **variables},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


@pytest.fixture(scope="module")
def development() -> dict[str, Any]:
    return render()


@pytest.fixture(scope="module")
def production() -> dict[str, Any]:
    return render("docker-compose.yml")


def command_of(service: dict[str, Any]) -> list[str]:
    command = service.get("command", [])
    return shlex.split(command) if isinstance(command, str) else list(command)


def words_of(service: dict[str, Any]) -> list[str]:
    """The command's words, those of a command it runs (watchfiles') included."""
    return [word for token in command_of(service) for word in shlex.split(token)]


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Target -> source of each volume, in the short or the long syntax."""
    found = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume["source"], volume["target"]
        found[target] = source
    return found


def test_development_mounts_the_code_where_alembic_writes_its_revisions(
    development: dict[str, Any],
) -> None:
    services = development["services"]
    for name in SOURCE_MOUNTED:
        assert Path(mounts(services[name])["/app"]) == PROJECT_DIR, name
    # alembic runs in the image's working directory, /app, and writes its revisions
    # beside alembic.ini: in the container that is the mounted checkout.
    dockerfile = (PROJECT_DIR / "backend.dockerfile").read_text().splitlines()
    assert "WORKDIR /app" in dockerfile
    versions = Path(str(alembic_config().get_main_option("script_location"))) / "versions"
    assert versions.is_dir()
    assert versions.is_relative_to(PROJECT_DIR)


def test_development_reloads_the_api_and_restarts_the_workers(development: dict[str, Any]) -> None:
    services = development["services"]
    backend = command_of(services["backend"])
    assert "--reload" in backend
    assert "--workers" not in backend
    for name in ("worker", "housekeeping"):
        worker = command_of(services[name])
        assert worker[0] == "watchfiles", name
        assert "app" in worker[1:], name


def test_production_runs_the_code_of_the_images(production: dict[str, Any]) -> None:
    services = production["services"]
    for name in APP_SERVICES:
        for target, source in mounts(services[name]).items():
            assert not source.startswith(("/", ".")), f"{name} mounts {source} on {target}"
    assert "--reload" not in command_of(services["backend"])
    assert "--workers" in command_of(services["backend"])


@pytest.mark.parametrize("config", ["development", "production"])
def test_the_worker_serves_every_queue(config: str, request: pytest.FixtureRequest) -> None:
    # Without --queues, Celery consumes every queue of task_queues, which the registry
    # fills: the test tools' `heavy` queue included (run below, as a plain process).
    services = request.getfixturevalue(config)["services"]
    workers = {name for name, service in services.items() if "worker" in words_of(service)}
    assert workers == {"worker", "housekeeping"}
    assert "--queues" not in words_of(services["worker"])
    assert "-Q" not in words_of(services["worker"])
    dockerfile = (PROJECT_DIR / "celeryworker.dockerfile").read_text()
    assert "--queues" not in dockerfile
    # Beat's entries go to the housekeeping queue, which a small worker of its own serves.
    housekeeping = words_of(services["housekeeping"])
    assert housekeeping[housekeeping.index("--queues") + 1] == "housekeeping"


@pytest.mark.parametrize("config", ["development", "production"])
def test_exactly_one_beat_without_deploy(config: str, request: pytest.FixtureRequest) -> None:
    services = request.getfixturevalue(config)["services"]
    beats = [name for name, service in services.items() if "beat" in words_of(service)]
    assert beats == ["beat"]
    assert "deploy" not in services["beat"]
    assert "scale" not in services["beat"]
    for service in services.values():
        assert "-B" not in words_of(service)
        assert "--beat" not in words_of(service)


@pytest.mark.parametrize("config", ["development", "production"])
def test_each_container_gets_only_its_settings(config: str, request: pytest.FixtureRequest) -> None:
    services = request.getfixturevalue(config)["services"]
    database = services["db"]["environment"]
    assert set(database) == {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB", "PGDATA"}
    for name in ("redis", "frontend"):
        assert not services[name].get("environment"), name
    assert set(services["minio"]["environment"]) == {"MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"}
    assert set(services["minio-bucket"]["environment"]) == {
        "STORAGE_URL",
        "STORAGE_S3_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    }
    for name in APP_SERVICES:
        environment = services[name]["environment"]
        assert all(secret in environment for secret in APPLICATION_SECRETS), name
        assert environment["POSTGRES_SERVER"] == "db", name


def test_everything_waits_for_one_prestart(production: dict[str, Any]) -> None:
    services = production["services"]
    assert command_of(services["prestart"]) == ["bash", "/usr/local/bin/prestart.sh"]
    assert services["prestart"]["restart"] == "no"
    for name in ("backend", "worker", "beat"):
        condition = services[name]["depends_on"]["prestart"]["condition"]
        assert condition == "service_completed_successfully", name
    assert (
        "COPY prestart.sh /usr/local/bin/prestart.sh"
        in (PROJECT_DIR / "backend.dockerfile").read_text()
    )


def test_database_and_redis_are_health_checked(production: dict[str, Any]) -> None:
    services = production["services"]
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    assert services["db"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    assert services["backend"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert "app-db-data" in mounts(services["db"]).values()


def image_user(dockerfile: str) -> str:
    lines = (PROJECT_DIR / dockerfile).read_text().splitlines()
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    return users[-1] if users else "root"


def test_api_and_worker_share_storage_as_one_unprivileged_user(
    production: dict[str, Any],
) -> None:
    # The API writes uploads, the worker artifacts and logs, and each deletes the other's.
    services = production["services"]
    for name in ("backend", "worker"):
        dockerfile = Path(services[name]["build"]["dockerfile"]).name
        assert image_user(dockerfile) == "1000", name
        assert "--uid 1000 tooljobs" in (PROJECT_DIR / dockerfile).read_text()
        storage = services[name]["environment"]["STORAGE_DIR"]
        assert mounts(services[name])[storage] == "app-storage", name


def test_flower_only_with_the_monitoring_profile(production: dict[str, Any]) -> None:
    assert production["services"]["flower"]["profiles"] == ["monitoring"]


@pytest.mark.parametrize("config", ["development", "production"])
def test_object_storage_only_with_the_s3_profile(
    config: str, request: pytest.FixtureRequest
) -> None:
    services = request.getfixturevalue(config)["services"]
    in_profile = {name for name, service in services.items() if "s3" in service.get("profiles", [])}
    assert in_profile == set(OBJECT_STORAGE)
    for name in OBJECT_STORAGE:
        assert services[name]["profiles"] == ["s3"], name
    # Plain `docker compose up` starts nothing that needs them.
    for name, service in services.items():
        if name not in OBJECT_STORAGE:
            assert not set(service.get("depends_on", {})) & set(OBJECT_STORAGE), name
    assert services["minio-bucket"]["depends_on"]["minio"]["condition"] == "service_healthy"
    assert services["minio-bucket"]["restart"] == "no"
    assert services["minio"]["healthcheck"]["test"] == ["CMD", "mc", "ready", "local"]


def test_application_variables_are_settings_or_aws_credentials(
    production: dict[str, Any],
) -> None:
    # A variable compose hands the application under a name config.py does not read
    # would be silently ignored; the AWS ones are boto3's, TOOL_APT_PACKAGES the build's.
    others = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "TOOL_APT_PACKAGES"}
    for name in APP_SERVICES:
        environment = set(production["services"][name]["environment"])
        assert environment - set(Settings.model_fields) == others, name


S3_PROFILE = {
    "STORAGE_URL": "s3://tooljobs/storage",
    "STORAGE_S3_ENDPOINT_URL": "http://minio:9000",
}


def test_the_s3_profile_puts_every_process_on_the_bucket_it_makes() -> None:
    services = render("docker-compose.yml", **S3_PROFILE)["services"]
    minio, bucket = services["minio"], services["minio-bucket"]
    endpoint = urlsplit(S3_PROFILE["STORAGE_S3_ENDPOINT_URL"])
    # MinIO's API answers on 9000 unless --address says otherwise.
    assert (endpoint.hostname, endpoint.port) == ("minio", 9000)
    assert "--address" not in command_of(minio)
    for name in APP_SERVICES:
        environment = services[name]["environment"]
        settings = Settings(_env_file=None, **environment)  # type: ignore[call-arg]
        stored_at = (settings.STORAGE_URL, settings.STORAGE_S3_ENDPOINT_URL)
        assert stored_at == ("s3://tooljobs/storage", "http://minio:9000"), name
        # The application signs with MinIO's root user.
        assert environment["AWS_ACCESS_KEY_ID"] == minio["environment"]["MINIO_ROOT_USER"]
        assert environment["AWS_SECRET_ACCESS_KEY"] == minio["environment"]["MINIO_ROOT_PASSWORD"]
        for variable, value in bucket["environment"].items():
            assert environment[variable] == value, (name, variable)
    assert len(minio["environment"]["MINIO_ROOT_PASSWORD"]) >= 8


def run_bucket_command(service: dict[str, Any], folder: Path) -> subprocess.CompletedProcess[str]:
    """The bucket service's shell command on this machine, with an `mc` that writes down
    its arguments (MinIO's client lives in the image only)."""
    mc = folder / "mc"
    mc.write_text(f'#!/bin/sh\necho "$*" >> {folder / "mc-calls"}\n')
    mc.chmod(0o755)
    entrypoint = service["entrypoint"]
    # The rendered file keeps compose's $$ escapes; a container's shell sees a single $.
    script = service["command"][0].replace("$$", "$")
    return subprocess.run(
        [*entrypoint, script],
        env={"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}", **service["environment"]},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_bucket_service_makes_the_bucket_of_storage_url(tmp_path: Path) -> None:
    bucket = render("docker-compose.yml", **S3_PROFILE)["services"]["minio-bucket"]
    result = run_bucket_command(bucket, tmp_path)
    assert result.returncode == 0, result.stderr
    user = bucket["environment"]["AWS_ACCESS_KEY_ID"]
    password = bucket["environment"]["AWS_SECRET_ACCESS_KEY"]
    assert (tmp_path / "mc-calls").read_text().splitlines() == [
        f"alias set store http://minio:9000 {user} {password}",
        "mb --ignore-existing store/tooljobs",
    ]


def test_the_bucket_service_says_what_to_set_without_an_s3_url(
    production: dict[str, Any], tmp_path: Path
) -> None:
    result = run_bucket_command(production["services"]["minio-bucket"], tmp_path)
    assert result.returncode == 1
    assert "set STORAGE_URL=s3://tooljobs/storage in .env" in result.stderr
    assert not (tmp_path / "mc-calls").exists()


@pytest.mark.parametrize("config", ["development", "production"])
def test_the_frontend_serves_the_jobs_page_under_its_policy(
    config: str, request: pytest.FixtureRequest
) -> None:
    frontend = request.getfixturevalue(config)["services"]["frontend"]
    volumes = mounts(frontend)
    root = next(target for target, source in volumes.items() if source.endswith("-placeholder"))
    conf = Path(volumes["/etc/nginx/conf.d/default.conf"])
    assert conf.is_relative_to(REPO_ROOT)
    text = conf.read_text()
    assert f"root {root};" in text
    assert (REPO_ROOT / "frontend-placeholder" / "index.html").is_file()
    # The page's headers, as the API sends them with it: its CSP no weaker.
    headers = dict(re.findall(r'add_header ([\w-]+) "([^"]*)" always;', text))
    assert headers["Content-Security-Policy"] == PAGE_POLICY
    assert {name: headers[name] for name in ALWAYS} == ALWAYS
    # The API on the page's origin (its CSP allows no other), streams not buffered.
    api = text[text.index("location /api/ {") :].split("}")[0]
    assert "proxy_pass http://backend:8000;" in api
    assert "proxy_buffering off;" in api
    assert frontend["depends_on"]["backend"]["condition"] == "service_healthy"


def test_dockerfiles_pass_hadolint() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run(
        [str(hadolint), "--no-color", "backend.dockerfile", "celeryworker.dockerfile"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_tool_packages_reach_the_worker_image_build(production: dict[str, Any]) -> None:
    worker = production["services"]["worker"]["build"]
    assert "TOOL_APT_PACKAGES" in worker["args"]
    assert "args" not in production["services"]["backend"]["build"]
    dockerfile = (PROJECT_DIR / "celeryworker.dockerfile").read_text()
    assert 'ARG TOOL_APT_PACKAGES=""' in dockerfile
    # The install runs before the switch to the unprivileged user, as it must.
    install = dockerfile.index("apt-get install")
    assert install < dockerfile.index("\nUSER ")
    assert "$TOOL_APT_PACKAGES" in dockerfile[install : dockerfile.index("\n", install)]


def as_plain_process(command: list[str], ports: dict[str, int], folder: Path) -> list[str]:
    """A service's command with the container's paths and ports turned into this machine's."""
    translated = []
    for word in command:
        word = word.replace("/usr/local/bin/prestart.sh", str(REPO_ROOT / "prestart.sh"))
        word = word.replace("/tmp/celerybeat-schedule", str(folder / "beat-schedule"))
        for container_port, port in ports.items():
            word = word.replace(f"--port={container_port}", f"--port={port}")
        translated.append(word)
    for position, word in enumerate(translated[:-1]):
        if word == "--port":
            translated[position + 1] = str(ports[translated[position + 1]])
    return translated


def plain_environment(**extra: str) -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "REAPER_INTERVAL_SECONDS": "1",
        **extra,
    }


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop a command and every process it started (uvicorn's reloader, watchfiles')."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture
def prestart_database() -> Iterator[str]:
    url = scratch_database_url("compose")
    drop_database(url)
    yield url
    drop_database(url)


def test_prestart_command_runs_as_a_plain_process(
    production: dict[str, Any], prestart_database: str, tmp_path: Path
) -> None:
    command = as_plain_process(command_of(production["services"]["prestart"]), {}, tmp_path)
    result = subprocess.run(
        command,
        cwd=PROJECT_DIR,
        env=plain_environment(DATABASE_URL=prestart_database),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "superuser admin@example.com created" in result.stdout


@pytest.fixture(params=["development", "production"])
def stack(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, str, dict[str, subprocess.Popen[bytes]]]]:
    """backend, both workers, beat and flower, as the configuration declares them, on this
    machine's services; the API logs its SQL (LOG_SQL) to a file."""
    services = request.getfixturevalue(request.param)["services"]
    ports = {"8000": free_port(), "5555": free_port()}
    processes = {}
    for name in ("backend", "worker", "housekeeping", "beat", "flower"):
        log = (tmp_path / f"{name}.log").open("wb")
        processes[name] = subprocess.Popen(
            as_plain_process(command_of(services[name]), ports, tmp_path),
            cwd=PROJECT_DIR,
            env=plain_environment(LOG_SQL=str(name == "backend").lower()),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield (
            f"http://127.0.0.1:{ports['8000']}/api/v1",
            f"http://127.0.0.1:{ports['5555']}",
            processes,
        )
    finally:
        for process in processes.values():
            stop_group(process)


def answers(url: str, processes: dict[str, subprocess.Popen[bytes]]) -> bool:
    exited = [name for name, process in processes.items() if process.poll() is not None]
    assert not exited, f"{exited} exited"
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_compose_commands_run_the_stack_as_plain_processes(
    stack: tuple[str, str, dict[str, subprocess.Popen[bytes]]], tmp_path: Path
) -> None:
    api, flower, processes = stack
    wait_until(lambda: answers(f"{api}/health", processes), timeout=90, interval=0.3)
    wait_until(lambda: answers(f"{flower}/healthcheck", processes), timeout=60, interval=0.3)
    headers = {"Authorization": f"Bearer {make_user(f'compose-{tmp_path.name}@example.com')}"}
    # echo runs on the default queue, heavy-echo (a test tool) on a queue of its own.
    job_urls = []
    for tool in ("echo", "heavy-echo"):
        submitted = httpx.post(
            f"{api}/jobs", headers=headers, json={"tool": tool, "inputs": {"message": tool}}
        )
        assert submitted.status_code == 202, submitted.text
        job_urls.append(f"{api}/jobs/{submitted.json()['id']}")
    for url, tool in zip(job_urls, ("echo", "heavy-echo"), strict=True):
        job = wait_until(
            lambda url=url: (
                (j := httpx.get(url, headers=headers).json())["state"] == "succeeded" and j
            ),
            timeout=60,
        )
        assert job["outputs"]["message"] == tool
    # Beat's reaper entry reaches the worker: a job whose worker vanished ends failed.
    lost = running_job(attempt=1, max_attempts=1, started_seconds_ago=10)
    wait_until(lambda: job_row(lost).state is JobState.failed, timeout=30)
    # LOG_SQL: the API logged the statements those requests issued, with their durations.
    backend_log = (tmp_path / "backend.log").read_text(errors="replace")
    assert any(
        "duration_ms" in line and "INSERT INTO job " in line for line in backend_log.splitlines()
    ), backend_log[-3000:]
