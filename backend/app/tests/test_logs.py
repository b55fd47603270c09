"""Log lines: one JSON object a line from a real API process and a real worker, each
with the request id, the user id and, for a job, its id and tool, the worker's carrying
the id of the request that submitted the job; and never a secret, even at DEBUG."""

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import make_url

from app.core import log_config
from app.core.config import settings
from app.core.security import user_id_from_token
from tests.support.environment import TEST_DATABASE_URL
from tests.support.log_files import whole_lines
from tests.support.processes import api_and_worker
from tests.support.users import auth, make_api_key, make_user
from tests.support.waiting import wait_until

PASSWORD = "correct-horse-battery-staple"
WRONG_PASSWORD = "wrong-horse-battery-staple"
NEW_USER_PASSWORD = "a-new-users-long-password"
QUERY_SECRET = "a-token-in-the-query-string"
# The test database trusts every local connection: the password is never checked, and
# must still never be logged.
DATABASE_PASSWORD = "database-password-in-the-url"


@dataclass
class LoggedStack:
    api: str
    api_log: Path
    worker_log: Path


@pytest.fixture(scope="module")
def stack(database: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoggedStack]:
    """An API and a worker logging JSON at DEBUG, each to its own file."""
    folder = tmp_path_factory.mktemp("logs")
    api_log, worker_log = folder / "api.log", folder / "worker.log"
    database_url = make_url(TEST_DATABASE_URL).set(password=DATABASE_PASSWORD)
    env = {
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "DEBUG",
        "DATABASE_URL": database_url.render_as_string(hide_password=False),
    }
    with (
        api_log.open("wb") as api_output,
        worker_log.open("wb") as worker_output,
        api_and_worker(
            env, worker_loglevel="DEBUG", api_output=api_output, worker_output=worker_output
        ) as url,
    ):
        yield LoggedStack(url, api_log, worker_log)


def events(log: Path) -> list[dict[str, Any]]:
    """Every line of the log as the JSON object it must be."""
    parsed = []
    for line in whole_lines(log):
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            pytest.fail(f"not a JSON line: {line!r}")
        assert isinstance(event, dict), line
        parsed.append(event)
    return parsed


def event_where(log: Path, **fields: object) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        return next((e for e in events(log) if all(e.get(k) == v for k, v in fields.items())), None)

    return wait_until(found, timeout=20, interval=0.1)


def test_each_api_request_is_a_json_line_with_its_request_id_and_user_id(
    stack: LoggedStack,
) -> None:
    token = make_user("reader@example.com")
    request_id = f"client-{uuid.uuid4()}"
    response = httpx.get(
        f"{stack.api}/users/me", headers={**auth(token), "X-Request-ID": request_id}
    )
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == request_id
    line = event_where(stack.api_log, request_id=request_id, event="request")
    assert line["user_id"] == str(user_id_from_token(token))
    assert line["method"] == "GET"
    assert line["path"] == "/api/v1/users/me"
    assert line["status"] == 200
    assert line["client"].startswith("127.0.0.1:")
    assert line["logger"] == "uvicorn.access"
    assert line["level"] == "info"
    assert line["timestamp"].endswith("Z")


@pytest.mark.parametrize("given", ["x" * 129, "two words", "<script>", "line\tbreak"])
def test_an_implausible_request_id_is_replaced_by_a_new_one(stack: LoggedStack, given: str) -> None:
    response = httpx.get(f"{stack.api}/health", headers={"X-Request-ID": given})
    made = response.headers["X-Request-ID"]
    assert made != given
    assert len(made) == 32
    int(made, 16)
    line = event_where(stack.api_log, request_id=made, event="request")
    assert "user_id" not in line
    assert given not in stack.api_log.read_text()


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", "/api/v1/nothing-here", {}, 404),
        ("GET", "/api/v1/users/me", {}, 401),
        ("POST", "/api/v1/files", {"Content-Length": str(10**12)}, 413),
    ],
)
def test_every_answer_refusals_too_carries_the_request_id(
    client: TestClient, method: str, path: str, headers: dict[str, str], status: int
) -> None:
    response = client.request(method, path, headers={"X-Request-ID": "refused-1", **headers})
    assert response.status_code == status
    assert response.headers["X-Request-ID"] == "refused-1"


def test_a_jobs_worker_lines_carry_its_id_tool_user_and_the_submits_request_id(
    stack: LoggedStack,
) -> None:
    token = make_user("submitter@example.com")
    user_id = str(user_id_from_token(token))
    request_id = f"submit-{uuid.uuid4()}"
    submitted = httpx.post(
        f"{stack.api}/jobs",
        headers={**auth(token), "X-Request-ID": request_id},
        json={"tool": "echo", "inputs": {"message": "logged"}},
    )
    assert submitted.status_code == 202, submitted.text
    job_id = submitted.json()["id"]
    submit_line = event_where(stack.api_log, request_id=request_id, event="request")
    assert submit_line["user_id"] == user_id
    assert submit_line["status"] == 202
    # Celery's own line for the run, from the pool process that ran it.
    ran = event_where(stack.worker_log, job_id=job_id, logger="celery.app.trace")
    assert ran["tool"] == "echo"
    assert ran["user_id"] == user_id
    assert ran["request_id"] == request_id
    assert "succeeded" in ran["event"]
    # The next job's lines carry nothing of this one's.
    other = httpx.post(
        f"{stack.api}/jobs",
        headers=auth(token),
        json={"tool": "echo", "inputs": {"message": "again"}},
    )
    next_run = event_where(stack.worker_log, job_id=other.json()["id"], logger="celery.app.trace")
    assert next_run["request_id"] == other.headers["X-Request-ID"] != request_id


def test_no_secret_sent_or_configured_reaches_any_log_line(stack: LoggedStack) -> None:
    make_user("alice@example.com", password=PASSWORD)
    root = make_user("root@example.com", is_superuser=True)
    api_key = make_api_key(root)
    login = f"{stack.api}/login/access-token"
    logged_in = httpx.post(login, data={"username": "alice@example.com", "password": PASSWORD})
    assert logged_in.status_code == 200
    token = logged_in.json()["access_token"]
    refused = httpx.post(login, data={"username": "alice@example.com", "password": WRONG_PASSWORD})
    assert refused.status_code == 401
    assert httpx.get(f"{stack.api}/users/me", headers=auth(token)).status_code == 200
    # A secret in a query string, where no endpoint reads one, is still kept from the log.
    assert httpx.get(f"{stack.api}/health", params={"token": QUERY_SECRET}).status_code == 200
    assert httpx.get(f"{stack.api}/users/me", headers={"X-API-Key": api_key}).status_code == 200
    created = httpx.post(
        f"{stack.api}/users",
        headers={"X-API-Key": api_key},
        json={"email": "new@example.com", "password": NEW_USER_PASSWORD},
    )
    assert created.status_code in (200, 201), created.text
    invalid = httpx.post(
        f"{stack.api}/users", headers=auth(root), json={"password": NEW_USER_PASSWORD}
    )
    assert invalid.status_code == 422
    job = httpx.post(
        f"{stack.api}/jobs", headers=auth(token), json={"tool": "echo", "inputs": {"message": "x"}}
    )
    event_where(stack.worker_log, job_id=job.json()["id"], logger="celery.app.trace")
    event_where(stack.api_log, path="/api/v1/users", status=422)
    secrets = [
        PASSWORD,
        WRONG_PASSWORD,
        NEW_USER_PASSWORD,
        QUERY_SECRET,
        token,
        root,
        api_key,
        DATABASE_PASSWORD,
        settings.SECRET_KEY,
        settings.WEBHOOK_SECRET,
        settings.FIRST_SUPERUSER_PASSWORD,
    ]
    for log in (stack.api_log, stack.worker_log):
        text = log.read_text()
        assert len(events(log)) > 10, "too little was logged to prove anything"
        leaked = [secret for secret in secrets if secret in text]
        assert not leaked, f"{log.name} holds {leaked}"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (
            "could not connect to postgresql://tooljobs:s3cret-pass@db:5432/tooljobs",
            "could not connect to postgresql://tooljobs:[redacted]@db:5432/tooljobs",
        ),
        ("redis://:broker-pass@redis:6379/0", "redis://:[redacted]@redis:6379/0"),
        ("Authorization: Bearer abc.def-ghi", "Authorization: Bearer [redacted]"),
        ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "token [redacted]"),
        ("key tj_" + "A" * 43, "key tj_[redacted]"),
        ('"GET /health?a=1&token=abc HTTP/1.1"', '"GET /health?a=1&token=[redacted] HTTP/1.1"'),
        ("basic setup", "basic setup"),
        ("no secret in http://example.com/a@b", "no secret in http://example.com/a@b"),
    ],
)
def test_secrets_in_log_text_are_masked(text: str, masked: str) -> None:
    assert log_config.SecretMask([]).masked(text) == masked


def test_configured_secrets_and_secret_keys_are_masked() -> None:
    mask = log_config.SecretMask(["a-configured-secret", "short"])
    event = mask(
        None,
        "info",
        {"event": "using a-configured-secret", "password": "x", "X-API-Key": "y", "n": 1},
    )
    assert event == {
        "event": "using [redacted]",
        "password": "[redacted]",
        "X-API-Key": "[redacted]",
        "n": 1,
    }
    # Too short to mask without masking ordinary words.
    assert mask.masked("short") == "short"


@pytest.mark.parametrize(
    ("log_format", "environment", "json_lines"),
    [
        ("auto", "local", False),
        ("auto", "production", True),
        ("json", "local", True),
        ("console", "production", False),
    ],
)
def test_log_format_auto_is_for_people_locally_and_json_elsewhere(
    monkeypatch: pytest.MonkeyPatch, log_format: str, environment: str, json_lines: bool
) -> None:
    # Under pytest stderr is no terminal, as in a container.
    monkeypatch.setattr(settings, "LOG_FORMAT", log_format)
    monkeypatch.setattr(settings, "ENVIRONMENT", environment)
    assert log_config.json_lines() is json_lines
