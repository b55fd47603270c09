from fastapi.testclient import TestClient

from app.core.security import create_access_token
from tests.support.users import auth, make_user


def login(client: TestClient, email: str, password: str) -> tuple[int, dict[str, str]]:
    response = client.post(
        "/api/v1/login/access-token", data={"username": email, "password": password}
    )
    return response.status_code, response.json()


def test_login_returns_a_token_that_identifies_the_user(client: TestClient) -> None:
    make_user("alice@example.com", password="alice-password")
    status, body = login(client, "Alice@Example.com", "alice-password")
    assert status == 200
    assert body["token_type"] == "bearer"
    me = client.get("/api/v1/users/me", headers=auth(body["access_token"]))
    assert me.status_code == 200
    assert me.json()["email"] == "alice@example.com"
    assert me.json()["is_superuser"] is False


def test_wrong_password_and_unknown_email_are_the_same_401(client: TestClient) -> None:
    make_user("alice@example.com", password="alice-password")
    assert login(client, "alice@example.com", "wrong") == (
        401,
        {"detail": "incorrect email or password"},
    )
    assert login(client, "nobody@example.com", "wrong") == (
        401,
        {"detail": "incorrect email or password"},
    )


def test_missing_malformed_and_forged_tokens_are_401(client: TestClient) -> None:
    assert client.get("/api/v1/users/me").status_code == 401
    assert client.get("/api/v1/users/me", headers=auth("not-a-jwt")).status_code == 401
    token = make_user("alice@example.com")
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    response = client.get("/api/v1/users/me", headers=auth(forged))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_token_of_a_deleted_user_is_401(client: TestClient) -> None:
    import uuid

    assert (
        client.get("/api/v1/users/me", headers=auth(create_access_token(uuid.uuid4()))).status_code
        == 401
    )


def test_superuser_creates_and_lists_users(
    client: TestClient, superuser_headers: dict[str, str]
) -> None:
    created = client.post(
        "/api/v1/users",
        headers=superuser_headers,
        json={"email": "new@example.com", "password": "new-password"},
    )
    assert created.status_code == 201
    assert created.json()["is_superuser"] is False
    assert "password" not in created.text
    status, _ = login(client, "new@example.com", "new-password")
    assert status == 200
    listed = client.get("/api/v1/users", headers=superuser_headers)
    assert [user["email"] for user in listed.json()] == ["root@example.com", "new@example.com"]


def test_duplicate_email_is_409(client: TestClient, superuser_headers: dict[str, str]) -> None:
    body = {"email": "dup@example.com", "password": "dup-password"}
    assert client.post("/api/v1/users", headers=superuser_headers, json=body).status_code == 201
    assert client.post("/api/v1/users", headers=superuser_headers, json=body).status_code == 409


def test_plain_users_may_not_manage_users(client: TestClient, user_headers: dict[str, str]) -> None:
    body = {"email": "x@example.com", "password": "x-password"}
    assert client.post("/api/v1/users", headers=user_headers, json=body).status_code == 403
    assert client.get("/api/v1/users", headers=user_headers).status_code == 403


def test_bad_user_fields_are_422_naming_the_field(
    client: TestClient, superuser_headers: dict[str, str]
) -> None:
    response = client.post(
        "/api/v1/users", headers=superuser_headers, json={"email": "nope", "password": "short"}
    )
    assert response.status_code == 422
    assert {tuple(error["loc"]) for error in response.json()["detail"]} == {
        ("body", "email"),
        ("body", "password"),
    }
