"""Bad input gets a 4xx that names the problem, never a 500: bodies too large, JSON too
deep, bodies of the wrong type, NUL characters and unusual names."""

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.api.body_limits import json_nesting_exceeds
from app.core.config import settings

JOBS = "/api/v1/jobs"
ECHO = {"tool": "echo", "inputs": {"message": "hi"}}


def nested(depth: int) -> Any:
    """A value whose arrays and objects nest `depth` deep."""
    value: Any = 1
    for level in range(depth):
        value = [value] if level % 2 else {"a": value}
    return value


def post_json(client: TestClient, headers: dict[str, str], body: bytes, path: str = JOBS) -> Any:
    return client.post(path, headers={**headers, "Content-Type": "application/json"}, content=body)


def test_a_json_body_past_max_request_bytes_is_413_naming_the_setting(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    padding = "x" * settings.MAX_REQUEST_BYTES
    body = json.dumps({**ECHO, "labels": {"pad": padding}}).encode()
    response = post_json(client, user_headers, body)
    assert response.status_code == 413
    assert "MAX_REQUEST_BYTES" in response.json()["detail"]


def test_a_chunked_body_is_counted_as_it_arrives(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    def chunks() -> Iterator[bytes]:
        # No Content-Length: the size is known only by reading.
        for _ in range(settings.MAX_REQUEST_BYTES // 65536 + 2):
            yield b" " * 65536

    response = client.post(
        JOBS, headers={**user_headers, "Content-Type": "application/json"}, content=chunks()
    )
    assert response.status_code == 413


def test_a_form_past_max_request_bytes_is_413(client: TestClient) -> None:
    padding = "x" * settings.MAX_REQUEST_BYTES
    response = client.post(
        "/api/v1/login/access-token", data={"username": "a@example.com", "password": padding}
    )
    assert response.status_code == 413


@pytest.mark.parametrize("depth", [settings.MAX_JSON_DEPTH + 1, 100_000])
def test_json_nested_past_max_json_depth_is_422_naming_the_setting(
    client: TestClient, user_headers: dict[str, str], depth: int
) -> None:
    # Built as text: json.dumps itself cannot go 100 000 deep.
    deep = "[" * depth + "]" * depth
    body = f'{{"tool": "echo", "inputs": {{"message": "hi", "payload": {deep}}}}}'.encode()
    response = post_json(client, user_headers, body)
    assert response.status_code == 422
    [failure] = response.json()["detail"]
    assert failure["type"] == "json_too_deep"
    assert "MAX_JSON_DEPTH" in failure["msg"]


def test_json_as_deep_as_allowed_is_accepted_and_brackets_in_text_do_not_count(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    # The body and the inputs are two levels of their own.
    payload = nested(settings.MAX_JSON_DEPTH - 2)
    message = "[{" * 5000
    body = json.dumps({"tool": "echo", "inputs": {"message": message, "payload": payload}})
    response = post_json(client, user_headers, body.encode())
    assert response.status_code == 202, response.text
    assert response.json()["inputs"]["payload"] == payload


@pytest.mark.parametrize(
    ("body", "too_deep"),
    [
        (b'{"a": [1, 2, {"b": "]]]]"}]}', False),
        (b'["\\"[[[["]', False),
        (b"[[[[]]]]", True),
        (b"[[[[]]]", True),
        (b"[{[{}]}]", True),
        # Brackets that do not pair are the JSON parser's to refuse, unless many.
        (b"[[]]]]]", False),
        (b"[{[]", False),
        (b"[[]{[]{[]{[]", True),
        (b"[]" * 100, False),
        (b'{"a": [}]', False),
    ],
)
def test_nesting_is_measured_outside_strings(body: bytes, too_deep: bool) -> None:
    assert json_nesting_exceeds(body, 3) is too_deep


def test_json_that_is_not_utf8_is_422(client: TestClient, user_headers: dict[str, str]) -> None:
    response = post_json(client, user_headers, b'{"tool": "\xff\xfe"}')
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


@pytest.mark.parametrize(
    "content_type",
    # text/x+json: a +json suffix is JSON to FastAPI only under application/.
    ["text/plain", "text/x+json", "application/xml", "application/x-www-form-urlencoded", None],
)
@pytest.mark.parametrize(
    ("path", "body"),
    [
        (JOBS, ECHO),
        ("/api/v1/schedules", {"name": "n", "tool": "echo", "interval_seconds": 60}),
        ("/api/v1/users/me/api-keys", {"name": "n"}),
    ],
)
def test_a_json_route_sent_another_type_is_415(
    client: TestClient,
    user_headers: dict[str, str],
    path: str,
    body: dict[str, Any],
    content_type: str | None,
) -> None:
    headers = dict(user_headers)
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = client.post(path, headers=headers, content=json.dumps(body).encode())
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]


def test_a_json_route_sent_nothing_is_422_missing(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    response = client.post(JOBS, headers=user_headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "missing"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/schedules", {"name": "a\x00b", "tool": "echo", "interval_seconds": 60}),
        (
            "/api/v1/schedules",
            {"name": "n", "tool": "echo", "interval_seconds": 60, "labels": {"k": "v\x00"}},
        ),
        ("/api/v1/users/me/api-keys", {"name": "key\x00"}),
        (JOBS, {**ECHO, "labels": {"k\x00": "v"}}),
        (JOBS, {"tool": "echo", "inputs": {"message": "a\x00b"}}),
        (JOBS, {"tool": "echo\x00", "inputs": {}}),
        (JOBS, {"tool": "echo", "inputs": {"message": "m", "payload": {"a": [["\x00"]]}}}),
    ],
)
def test_nul_in_json_text_is_422(
    client: TestClient, user_headers: dict[str, str], path: str, body: dict[str, Any]
) -> None:
    response = client.post(path, headers=user_headers, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["type"] == "nul_character"


def test_an_escaped_backslash_before_u0000_is_text_not_nul(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    body = {"tool": "echo", "inputs": {"message": "C:\\u0000"}}
    response = client.post(JOBS, headers=user_headers, json=body)
    assert response.status_code == 202, response.text
    assert response.json()["inputs"]["message"] == "C:\\u0000"


@pytest.mark.parametrize("params", [{"tool": "echo\x00"}, {"label": "k\x00:v"}, {"cursor": "\x00"}])
def test_nul_in_the_query_is_422(
    client: TestClient, user_headers: dict[str, str], params: dict[str, str]
) -> None:
    response = client.get(JOBS, headers=user_headers, params=params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query"]


def test_nul_in_a_login_form_is_422(client: TestClient) -> None:
    response = client.post(
        "/api/v1/login/access-token", data={"username": "a\x00@example.com", "password": "p"}
    )
    assert response.status_code == 422


def test_nul_or_control_characters_in_an_idempotency_key_are_422(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    for key in ("a\x00b", "a\x1bb"):
        response = client.post(JOBS, headers={**user_headers, "Idempotency-Key": key}, json=ECHO)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["header", "idempotency-key"]


def test_a_unicode_idempotency_key_replays(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    # Bytes past ASCII, as a client may send them; the server reads them as Latin-1.
    headers: dict[str, Any] = {**user_headers, "Idempotency-Key": "clé-été".encode()}
    first = client.post(JOBS, headers=headers, json=ECHO)
    again = client.post(JOBS, headers=headers, json=ECHO)
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["id"] == again.json()["id"]


def test_unicode_in_names_and_labels_is_kept(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    schedule = client.post(
        "/api/v1/schedules",
        headers=user_headers,
        json={"name": "Zeitplan ☃ 日本", **ECHO, "interval_seconds": 60},
    )
    assert schedule.status_code == 201, schedule.text
    assert schedule.json()["name"] == "Zeitplan ☃ 日本"
    job = client.post(JOBS, headers=user_headers, json={**ECHO, "labels": {"équipe": "データ"}})
    assert job.status_code == 202
    listed = client.get(JOBS, headers=user_headers, params={"label": "équipe:データ"}).json()
    assert [item["id"] for item in listed["items"]] == [job.json()["id"]]
    key = client.post("/api/v1/users/me/api-keys", headers=user_headers, json={"name": "ключ"})
    assert key.status_code == 201
    assert key.json()["name"] == "ключ"


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("a\x00b.txt", "a_b.txt"),
        ("résumé ☃.txt", "r_sum___.txt"),
        ("..\\..\\windows\\system.ini", "system.ini"),
        ("/etc/passwd", "passwd"),
        ("%2e%2e%2fetc%2fpasswd", "_2e_2e_2fetc_2fpasswd"),
        ("", "upload"),
    ],
)
def test_upload_names_become_plain_file_names(
    client: TestClient, user_headers: dict[str, str], raw: str, kept: str
) -> None:
    # Sent as it is, percent-encoding and all, the way a hostile client would.
    body = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="'
        + raw.encode()
        + b'"\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n'
    )
    response = client.post(
        "/api/v1/files",
        headers={**user_headers, "Content-Type": "multipart/form-data; boundary=b"},
        content=body,
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == kept


@pytest.mark.parametrize(
    ("content_type", "kept"),
    [
        ("text/plain; charset=utf-8", "text/plain; charset=utf-8"),
        ("text/pl\x00ain", "application/octet-stream"),
        ("not a type", "application/octet-stream"),
        ("text/" + "x" * 300, "application/octet-stream"),
    ],
)
def test_an_upload_keeps_its_content_type_only_when_it_is_one(
    client: TestClient, user_headers: dict[str, str], content_type: str, kept: str
) -> None:
    response = client.post(
        "/api/v1/files", headers=user_headers, files={"file": ("a.txt", b"x", content_type)}
    )
    assert response.status_code == 201, response.text
    assert response.json()["content_type"] == kept
    content = client.get(f"/api/v1/files/{response.json()['id']}/content", headers=user_headers)
    assert content.headers["content-type"].startswith(kept.split(";")[0])


def test_405_lists_every_method_of_the_path(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    response = client.put(JOBS, headers=user_headers)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    job_path = client.patch(f"{JOBS}/00000000-0000-0000-0000-000000000000", headers=user_headers)
    assert job_path.headers["allow"] == "DELETE, GET"


def test_an_unknown_api_path_is_a_json_404(client: TestClient) -> None:
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}
