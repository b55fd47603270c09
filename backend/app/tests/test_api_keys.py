"""API keys: made, listed and revoked by their owner; `X-API-Key` works like a token."""

import uuid

import pytest
import redis
from fastapi.testclient import TestClient
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import select, update

from app.core.security import hash_api_key
from app.db.session import SessionLocal
from app.models.api_key import ApiKey
from app.models.user import User
from app.services import process_cache
from app.worker.redis_db import caches
from app.worker.redis_db.connection import client as redis_client

KEYS = "/api/v1/users/me/api-keys"


def create_key(client: TestClient, headers: dict[str, str], name: str = "nightly") -> str:
    response = client.post(KEYS, headers=headers, json={"name": name})
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key


def me(client: TestClient, key: str) -> tuple[int, object]:
    response = client.get("/api/v1/users/me", headers={"X-API-Key": key})
    return response.status_code, response.json()


def test_created_key_is_shown_once_and_acts_as_its_owner(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    created = client.post(KEYS, headers=user_headers, json={"name": "nightly"})
    assert created.status_code == 201
    body = created.json()
    assert body["key"].startswith("tj_")
    assert len(body["key"]) > 40
    assert body["prefix"] == body["key"][:11]
    assert (body["name"], body["last_used_at"]) == ("nightly", None)

    status, user = me(client, body["key"])
    assert status == 200
    assert user["email"] == "user@example.com"  # type: ignore[index]

    listed = client.get(KEYS, headers=user_headers)
    assert listed.status_code == 200
    assert body["key"] not in listed.text
    [read] = listed.json()
    assert set(read) == {"id", "name", "prefix", "created_at", "last_used_at"}
    assert (read["id"], read["prefix"]) == (body["id"], body["prefix"])
    assert read["last_used_at"] is not None


def test_only_a_keyed_hash_of_the_key_is_stored(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    key = create_key(client, user_headers)
    with SessionLocal() as session:
        row = session.scalars(select(ApiKey)).one()
    assert row.key_hash == hash_api_key(key)
    assert key not in (row.key_hash, row.prefix, row.name)
    assert len(row.key_hash) == 64


def test_api_key_works_wherever_a_token_does(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    key = {"X-API-Key": create_key(client, user_headers)}
    submitted = client.post(
        "/api/v1/jobs", headers=key, json={"tool": "echo", "inputs": {"message": "hi"}}
    )
    assert submitted.status_code == 202
    job_id = submitted.json()["id"]
    assert client.get(f"/api/v1/jobs/{job_id}", headers=key).status_code == 200
    assert client.get(f"/api/v1/jobs/{job_id}", headers=user_headers).status_code == 200
    assert client.get("/api/v1/tools", headers=key).status_code == 200


def test_unknown_key_is_401(client: TestClient, user_headers: dict[str, str]) -> None:
    create_key(client, user_headers)
    response = client.get("/api/v1/users/me", headers={"X-API-Key": "tj_not-a-key"})
    assert response.status_code == 401
    assert response.json() == {"detail": "invalid API key"}
    assert client.get("/api/v1/users/me").json() == {"detail": "not authenticated"}


def test_revoked_key_fails_at_once(client: TestClient, user_headers: dict[str, str]) -> None:
    key = create_key(client, user_headers)
    kept = create_key(client, user_headers, name="kept")
    assert me(client, key)[0] == 200
    # The first use cached the key's owner: revoking must not leave it there.
    assert caches.load_api_key_owner(hash_api_key(key)) is not None
    [key_id] = [
        k["id"] for k in client.get(KEYS, headers=user_headers).json() if k["name"] != "kept"
    ]

    assert client.delete(f"{KEYS}/{key_id}", headers=user_headers).status_code == 204
    assert me(client, key) == (401, {"detail": "invalid API key"})
    assert me(client, kept)[0] == 200
    assert [k["name"] for k in client.get(KEYS, headers=user_headers).json()] == ["kept"]
    assert client.delete(f"{KEYS}/{key_id}", headers=user_headers).status_code == 404


def test_a_request_that_read_the_key_before_revocation_cannot_cache_it_again(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    key = create_key(client, user_headers)
    with SessionLocal() as session:
        row = session.scalars(select(ApiKey)).one()
    # The revocation lands between that request's read of the row and its cache write.
    assert client.delete(f"{KEYS}/{row.id}", headers=user_headers).status_code == 204
    caches.save_api_key_owner(row.key_hash, row.owner_id)
    assert me(client, key)[0] == 401


def test_key_of_an_inactive_user_is_401(client: TestClient, user_headers: dict[str, str]) -> None:
    key = create_key(client, user_headers)
    with SessionLocal() as session:
        session.execute(update(User).values(is_active=False))
        session.commit()
        user_id = session.scalars(select(User.id)).one()
    # What a deactivation does: forget the principal cached when the key was made.
    redis_client().flushdb()
    process_cache.forget("principal", user_id)
    assert me(client, key) == (401, {"detail": "invalid API key"})


def test_another_users_key_is_404_and_not_listed(
    client: TestClient, user_headers: dict[str, str], other_user_headers: dict[str, str]
) -> None:
    key = create_key(client, user_headers)
    [mine] = client.get(KEYS, headers=user_headers).json()
    assert client.get(KEYS, headers=other_user_headers).json() == []
    response = client.delete(f"{KEYS}/{mine['id']}", headers=other_user_headers)
    assert response.status_code == 404
    assert client.delete(f"{KEYS}/{uuid.uuid4()}", headers=user_headers).status_code == 404
    assert me(client, key)[0] == 200


def test_revoking_without_redis_is_503_and_revokes_nothing(
    client: TestClient, user_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = create_key(client, user_headers)
    [listed] = client.get(KEYS, headers=user_headers).json()
    closed_port = redis.Redis(port=1, retry=Retry(NoBackoff(), retries=0))
    monkeypatch.setattr(caches, "client", lambda: closed_port)
    response = client.delete(f"{KEYS}/{listed['id']}", headers=user_headers)
    assert response.status_code == 503
    assert me(client, key)[0] == 200


def test_key_names_are_required_and_bounded(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    for name in ("", "x" * 101):
        response = client.post(KEYS, headers=user_headers, json={"name": name})
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "name"]


def test_openapi_declares_the_api_key_header(client: TestClient) -> None:
    schemes = client.get("/api/v1/openapi.json").json()["components"]["securitySchemes"]
    assert {"type": "apiKey", "in": "header", "name": "X-API-Key"}.items() <= next(
        scheme for scheme in schemes.values() if scheme["type"] == "apiKey"
    ).items()
