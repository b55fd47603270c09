"""Real PostgreSQL, Redis and Celery worker processes for the suite; none for the tool
tests in tests/tools/, which run a tool in-process as a tool author's tests do.

The suite uses its own database (`tooljobs_test`, built with `alembic upgrade head`)
and its own Redis databases, never the ones `make run` uses: tests/support/environment.py
sets them, as a pytest plugin loaded before this file. Helpers are in tests/support.

The app and the servers' clients are imported inside the fixtures that use them, so
that a run of tool tests alone does not load the whole app (seconds on a busy machine).
"""

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from playwright.sync_api import Browser

    from tests.support.s3 import S3Server

TOOL_TESTS = Path(__file__).resolve().parent / "tools"


@pytest.fixture(autouse=True)
def servers(request: pytest.FixtureRequest) -> None:
    """Each test but a tool test gets the database and Redis, and leaves them clean."""
    if TOOL_TESTS not in request.path.resolve().parents:
        request.getfixturevalue("clean_state")


@pytest.fixture(scope="session")
def database() -> Iterator[None]:
    """A fresh database migrated up at the start and down to base at the end."""
    import redis
    from alembic import command

    from app.db.init_db import create_database_if_missing
    from app.db.session import engine
    from tests.support.database import alembic_config, drop_database
    from tests.support.environment import TEST_DATABASE_URL

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


@pytest.fixture
def clean_state(database: None) -> Iterator[None]:
    from sqlalchemy import text

    from app.db.session import engine
    from app.worker.redis_db.connection import client as redis_client

    yield
    with engine.begin() as connection:
        connection.execute(text('TRUNCATE job, "user" CASCADE'))
    redis_client().flushdb()
    shutil.rmtree(os.environ["STORAGE_DIR"], ignore_errors=True)


@pytest.fixture
def client() -> Iterator["TestClient"]:
    from fastapi.testclient import TestClient

    from app.main import app

    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def user_headers() -> dict[str, str]:
    from tests.support.users import auth, make_user

    return auth(make_user("user@example.com"))


@pytest.fixture
def other_user_headers() -> dict[str, str]:
    from tests.support.users import auth, make_user

    return auth(make_user("other@example.com"))


@pytest.fixture
def superuser_headers() -> dict[str, str]:
    from tests.support.users import auth, make_user

    return auth(make_user("root@example.com", is_superuser=True))


@pytest.fixture(scope="module")
def worker(database: None) -> Iterator[subprocess.Popen[bytes]]:
    """A worker for the tests of one module; tests without it see jobs stay queued."""
    from tests.support.processes import start_worker, stop

    process = start_worker()
    yield process
    stop(process)


@pytest.fixture(scope="module")
def api_url(database: None) -> Iterator[str]:
    """A real API process (uvicorn) for the tests of one module, as clients reach it over
    HTTP; its base URL, once it answers."""
    from tests.support.ports import free_port
    from tests.support.processes import answers, start_api, stop
    from tests.support.waiting import wait_until

    port = free_port()
    process = start_api(port)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers(f"{url}/api/v1/health"), timeout=60, interval=0.2)
        yield url
    finally:
        stop(process)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """What the fault cases saw (tests/support/fault_cases.py), when any ran."""
    observed = sys.modules.get("tests.support.fault_cases")
    if observed is not None and observed.OBSERVED:
        terminalreporter.section("fault cases observed")
        for line in observed.OBSERVED:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def s3_server() -> Iterator["S3Server"]:
    """A real S3 endpoint over HTTP (moto's server mode) with one empty bucket."""
    from moto.server import ThreadedMotoServer

    from tests.support.ports import free_port
    from tests.support.s3 import S3Server

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    s3 = S3Server(f"http://127.0.0.1:{port}", port, bucket="tooljobs-test")
    s3.client().create_bucket(Bucket=s3.bucket)
    yield s3
    server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator["Browser"]:
    """Debian's headless Chromium, driven by Playwright (tests/support/jobs_page.py)."""
    from playwright.sync_api import sync_playwright

    from tests.support.jobs_page import chromium

    executable = chromium()
    if executable is None:
        pytest.skip(
            "no Chromium on this machine and none could be installed: "
            "`apt-get install chromium` (make services does it)"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable)
        yield launched
        launched.close()
