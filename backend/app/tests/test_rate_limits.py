"""Rate limits: job submits per principal, logins per account and per client address."""

import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from fastapi.testclient import TestClient
from redis.backoff import NoBackoff
from redis.retry import Retry

from app.core.config import settings
from app.main import app
from app.services import rate_limits
from app.worker.redis_db import rate_limits as rate_counters
from tests.support.users import make_user

ECHO = {"tool": "echo", "inputs": {"message": "hi"}}


def submit(client: TestClient, headers: dict[str, str]) -> int:
    return client.post("/api/v1/jobs", headers=headers, json=ECHO).status_code


def login(client: TestClient, email: str, password: str = "password-123") -> int:
    response = client.post(
        "/api/v1/login/access-token", data={"username": email, "password": password}
    )
    return response.status_code


@pytest.fixture
def submits_per_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "RATE_LIMIT_SUBMIT_PER_MINUTE", 2)


@pytest.fixture
def one_second_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rate_limits, "WINDOW_SECONDS", 1)


def test_submits_past_the_limit_are_429_with_retry_after(
    client: TestClient, user_headers: dict[str, str], submits_per_minute: None
) -> None:
    assert [submit(client, user_headers) for _ in range(2)] == [202, 202]
    refused = client.post("/api/v1/jobs", headers=user_headers, json=ECHO)
    assert refused.status_code == 429
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert refused.json() == {"detail": f"too many job submissions; retry in {retry_after} s"}
    # Every route that creates jobs draws on the same count.
    typed = client.post(
        "/api/v1/tools/echo/jobs", headers=user_headers, json={"inputs": {"message": "hi"}}
    )
    assert typed.status_code == 429
    assert "Retry-After" in typed.headers
    listed = client.get("/api/v1/jobs", headers=user_headers).json()["items"]
    assert len(listed) == 2


def test_submits_at_the_same_moment_pass_the_limit_no_further(
    client: TestClient, user_headers: dict[str, str], submits_per_minute: None
) -> None:
    # Counted together in one group (app.services.submit_groups), each in its turn.
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: submit(client, user_headers), range(6)))
    assert sorted(answers) == [202, 202, 429, 429, 429, 429]


def test_a_submit_refused_for_its_input_is_not_counted(
    client: TestClient, user_headers: dict[str, str], submits_per_minute: None
) -> None:
    invalid = {"tool": "echo", "inputs": {"message": 7}}
    assert {
        client.post("/api/v1/jobs", headers=user_headers, json=invalid).status_code
        for _ in range(3)
    } == {422}
    assert [submit(client, user_headers) for _ in range(3)] == [202, 202, 429]


def test_another_principal_is_not_limited(
    client: TestClient,
    user_headers: dict[str, str],
    other_user_headers: dict[str, str],
    submits_per_minute: None,
) -> None:
    assert [submit(client, user_headers) for _ in range(3)] == [202, 202, 429]
    assert submit(client, other_user_headers) == 202


def test_the_submit_window_resets(
    client: TestClient,
    user_headers: dict[str, str],
    submits_per_minute: None,
    one_second_window: None,
) -> None:
    assert [submit(client, user_headers) for _ in range(3)] == [202, 202, 429]
    time.sleep(1.1)
    assert submit(client, user_headers) == 202


def test_zero_turns_the_submit_limit_off(
    client: TestClient, user_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "RATE_LIMIT_SUBMIT_PER_MINUTE", 0)
    assert {submit(client, user_headers) for _ in range(5)} == {202}


def test_logins_past_the_account_limit_are_429_even_with_the_right_password(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "RATE_LIMIT_LOGIN_PER_MINUTE", 2)
    make_user("alice@example.com")
    make_user("bob@example.com")
    assert [login(client, "alice@example.com", "wrong") for _ in range(2)] == [401, 401]
    refused = client.post(
        "/api/v1/login/access-token",
        data={"username": "Alice@Example.com", "password": "password-123"},
    )
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["detail"].startswith("too many login attempts for this account")
    assert "access_token" not in refused.text
    assert login(client, "bob@example.com") == 200


def test_logins_past_the_address_limit_are_429_for_any_account(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "RATE_LIMIT_LOGIN_PER_ADDRESS_PER_MINUTE", 2)
    make_user("alice@example.com")
    assert [login(client, f"guess{n}@example.com") for n in range(2)] == [401, 401]
    assert login(client, "alice@example.com") == 429
    with TestClient(app, client=("192.0.2.7", 40000)) as elsewhere:
        assert login(elsewhere, "alice@example.com") == 200


def test_the_login_window_resets(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, one_second_window: None
) -> None:
    monkeypatch.setattr(settings, "RATE_LIMIT_LOGIN_PER_MINUTE", 1)
    make_user("alice@example.com")
    assert [login(client, "alice@example.com") for _ in range(2)] == [200, 429]
    time.sleep(1.1)
    assert login(client, "alice@example.com") == 200


@pytest.fixture
def redis_down(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    closed_port = redis.Redis(port=1, retry=Retry(NoBackoff(), retries=0))
    monkeypatch.setattr(rate_counters, "client", lambda: closed_port)
    rate_counters._hit.cache_clear()
    yield
    rate_counters._hit.cache_clear()


def test_limits_fail_open_without_redis(
    client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    redis_down: None,
) -> None:
    monkeypatch.setattr(settings, "RATE_LIMIT_LOGIN_PER_MINUTE", 1)
    make_user("alice@example.com")
    with caplog.at_level(logging.WARNING, logger="app.worker.redis_db.connection"):
        assert [login(client, "alice@example.com") for _ in range(3)] == [200, 200, 200]
    assert "Redis unavailable (hit)" in caplog.text
