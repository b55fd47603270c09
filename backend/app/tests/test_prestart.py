"""prestart.sh: waits, creates a missing database, migrates, adds the superuser; rerunnable."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.database import drop_database, scratch_database_url
from tests.support.paths import REPO_ROOT

PRESTART_URL = scratch_database_url("prestart")


def run(command: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    bin_dir = str(Path(sys.executable).parent)
    return subprocess.run(
        command,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def missing_database() -> Iterator[str]:
    drop_database(PRESTART_URL)
    yield PRESTART_URL
    drop_database(PRESTART_URL)


def test_prestart_creates_migrates_and_is_idempotent(missing_database: str) -> None:
    first = run(["bash", str(REPO_ROOT / "prestart.sh")], DATABASE_URL=missing_database)
    assert first.returncode == 0, first.stderr
    assert "database created" in first.stdout
    assert "superuser admin@example.com created" in first.stdout
    assert "Running upgrade  ->" in first.stderr
    again = run(["bash", str(REPO_ROOT / "prestart.sh")], DATABASE_URL=missing_database)
    assert again.returncode == 0, again.stderr
    assert "database exists" in again.stdout
    assert "superuser admin@example.com exists" in again.stdout
    assert "Running upgrade" not in again.stderr


def test_waiting_gives_up_with_a_message_naming_the_service() -> None:
    closed_port = "redis://127.0.0.1:1/0"
    result = run(["tooljobs", "wait-for-services", "--timeout", "1"], REDIS_URL=closed_port)
    assert result.returncode == 1
    assert "gave up after 1s waiting for redis" in result.stderr
    assert "database" not in result.stderr.split("waiting for", 1)[1]
