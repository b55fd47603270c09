"""Secrets stay secret: tokens are checked strictly, and neither passwords nor
SECRET_KEY reach logs or answers."""

import base64
import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import psycopg2
import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from app.api.errors import backing_service_down
from app.core.config import settings
from app.db.session import SessionLocal
from app.models.user import User
from tests.support.users import auth, make_user

PASSWORD = "correct-horse-battery-staple"
WRONG_PASSWORD = "wrong-horse-battery-staple"


def user_id() -> uuid.UUID:
    make_user("alice@example.com", password=PASSWORD)
    with SessionLocal() as session:
        return session.scalars(select(User.id)).one()


def claims(subject: uuid.UUID, *, expires_in: timedelta = timedelta(minutes=5)) -> dict[str, Any]:
    return {"sub": str(subject), "exp": datetime.now(UTC) + expires_in}


def status_with(client: TestClient, token: str) -> int:
    return client.get("/api/v1/users/me", headers=auth(token)).status_code


def unsigned(payload: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    payload = {**payload, "exp": int(payload["exp"].timestamp())}
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_only_hs256_tokens_signed_with_secret_key_are_accepted(client: TestClient) -> None:
    payload = claims(user_id())
    assert status_with(client, jwt.encode(payload, settings.SECRET_KEY, algorithm="HS256")) == 200
    assert status_with(client, unsigned(payload)) == 401
    assert status_with(client, jwt.encode(payload, settings.SECRET_KEY, algorithm="HS512")) == 401
    other_key = "another-secret-key-of-good-length"
    assert status_with(client, jwt.encode(payload, other_key, algorithm="HS256")) == 401


def test_expired_tokens_and_tokens_without_expiry_are_401(client: TestClient) -> None:
    subject = user_id()
    expired = jwt.encode(
        claims(subject, expires_in=timedelta(seconds=-1)), settings.SECRET_KEY, algorithm="HS256"
    )
    response = client.get("/api/v1/users/me", headers=auth(expired))
    assert response.status_code == 401
    assert response.json() == {"detail": "invalid or expired token"}
    endless = jwt.encode({"sub": str(subject)}, settings.SECRET_KEY, algorithm="HS256")
    assert status_with(client, endless) == 401


def assert_no_secret(text: str) -> None:
    for secret in (PASSWORD, WRONG_PASSWORD, settings.SECRET_KEY):
        assert secret not in text


def test_a_wrong_password_is_neither_logged_nor_answered(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    make_user("alice@example.com", password=PASSWORD)
    caplog.set_level(logging.DEBUG)
    response = client.post(
        "/api/v1/login/access-token",
        data={"username": "alice@example.com", "password": WRONG_PASSWORD},
    )
    assert response.status_code == 401
    assert_no_secret(response.text)
    assert caplog.records, "nothing was logged, so nothing was checked"
    assert_no_secret(caplog.text)


@pytest.mark.parametrize(
    "body",
    [
        {"email": "new@example.com", "password": "hunter2"},  # too short
        {"email": "new@example.com", "password": WRONG_PASSWORD * 10},  # too long
        {"password": WRONG_PASSWORD},  # a missing field's error holds the whole object
    ],
)
def test_invalid_user_bodies_do_not_echo_the_password(
    client: TestClient,
    superuser_headers: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    body: dict[str, Any],
) -> None:
    caplog.set_level(logging.DEBUG)
    response = client.post("/api/v1/users", headers=superuser_headers, json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "body"
    assert body["password"] not in response.text
    assert all("input" not in error for error in response.json()["detail"])
    assert_no_secret(response.text)
    assert body["password"] not in caplog.text
    assert_no_secret(caplog.text)


def test_an_invalid_login_form_does_not_echo_the_password(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = client.post(
        "/api/v1/login/access-token",
        data={"username": "alice@example.com", "password": PASSWORD, "grant_type": "nope"},
    )
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["body", "grant_type"]]
    assert_no_secret(response.text)
    assert_no_secret(caplog.text)


def test_an_outage_is_logged_with_its_reason_but_without_the_statement(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The 503's log line tells why the database failed (the driver's message), not the
    SQL or its parameters, which may carry a user's data."""
    with pytest.raises(psycopg2.OperationalError) as refused:
        psycopg2.connect(host="127.0.0.1", port=1, user="postgres", connect_timeout=2)
    outage = OperationalError(
        "UPDATE job SET inputs=%(inputs)s", {"inputs": {"token": WRONG_PASSWORD}}, refused.value
    )
    caplog.set_level(logging.WARNING)
    response = backing_service_down(Request({"type": "http", "headers": []}), outage)
    assert response.status_code == 503
    assert "OperationalError: connection to server at" in caplog.text
    assert "refused" in caplog.text
    assert WRONG_PASSWORD not in caplog.text
    assert "UPDATE" not in caplog.text
