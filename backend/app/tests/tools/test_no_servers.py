"""A tool's test needs no server: neither in a tool author's own package, nor in this
project's tests/tools/. Both run here in a pytest of their own with PostgreSQL and Redis
unreachable."""

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.support.paths import PROJECT_DIR, REPO_ROOT
from tests.support.ports import free_port

GUIDE = (REPO_ROOT / "TOOLS.md").read_text()


def guide_block(defining: str) -> str:
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", GUIDE, re.DOTALL) if defining in b]
    return block


def unreachable_servers() -> dict[str, str]:
    closed = free_port()  # nothing listens there once the probe closed it
    return {
        "TEST_DATABASE_URL": f"postgresql+psycopg2://postgres@127.0.0.1:{closed}/tooljobs_test",
        "TEST_REDIS": f"redis://127.0.0.1:{closed}",
        "DATABASE_URL": f"postgresql+psycopg2://postgres@127.0.0.1:{closed}/tooljobs",
        "REDIS_URL": f"redis://127.0.0.1:{closed}/0",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{closed}/1",
    }


def pytest_in(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=folder,
        env={**os.environ, **unreachable_servers(), **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_guides_test_is_complete_in_under_10_lines() -> None:
    assert len(guide_block("def test_word_count(").strip().splitlines()) < 10


def test_a_tool_authors_test_passes_without_servers_or_settings(tmp_path: Path) -> None:
    (tmp_path / "word_count.py").write_text(guide_block("class WordCount("))
    (tmp_path / "test_word_count.py").write_text(guide_block("def test_word_count("))
    # Settings that would stop the app at once: the test must never read them.
    refused = {"ENVIRONMENT": "production", "SECRET_KEY": "changethis"}
    result = pytest_in(tmp_path, PYTHONPATH=str(PROJECT_DIR), **refused)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_the_projects_tool_tests_pass_without_servers() -> None:
    tool_tests = ["tests/tools/test_tools_guide.py", "tests/tools/test_tool_checks.py"]
    result = pytest_in(PROJECT_DIR, *tool_tests)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout
