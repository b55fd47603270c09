"""Who may do what, over every route of the app's route table.

The routes come from `app.routes`, not from a list here: a new route with no row in
EXPECTED fails `test_every_route_has_an_expectation`, so nobody ships a route whose
access was never decided. Each row says what every principal gets; the resources in
the path (a job, a file, a schedule, an API key) belong to the owner and are made
fresh for each request, so that one principal's delete cannot change what the next sees.
"""

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import update

from app.core.config import settings
from app.core.security import JWT_ALGORITHM, user_id_from_token
from app.db.session import SessionLocal
from app.main import app
from app.models.user import User
from tests.support.jobs import ended_job
from tests.support.users import auth, make_api_key, make_user

API = settings.API_V1_STR
OWNER_PASSWORD = "owner-password-123"

# Who calls.
ANONYMOUS = "anonymous"
OWNER = "owner"
OWNER_API_KEY = "owner's API key"
OTHER_USER = "another user"
SUPERUSER = "superuser"
INACTIVE_USER = "inactive user"
EXPIRED_TOKEN = "expired token"
TAMPERED_TOKEN = "tampered token"
PRINCIPALS = (
    ANONYMOUS,
    EXPIRED_TOKEN,
    TAMPERED_TOKEN,
    INACTIVE_USER,
    OTHER_USER,
    OWNER,
    OWNER_API_KEY,
    SUPERUSER,
)
SIGNED_OUT = {ANONYMOUS: 401, EXPIRED_TOKEN: 401, TAMPERED_TOKEN: 401, INACTIVE_USER: 401}

Expectation = dict[str, int]


def public(status: int) -> Expectation:
    """Credentials play no part: everyone gets the same answer."""
    return dict.fromkeys(PRINCIPALS, status)


def signed_in(status: int) -> Expectation:
    """Any active user, acting on what is theirs (or a new thing)."""
    return {**SIGNED_OUT, **dict.fromkeys((OWNER, OWNER_API_KEY, OTHER_USER, SUPERUSER), status)}


def owned(status: int) -> Expectation:
    """The owner's, seen by a superuser too; anyone else is told it does not exist."""
    return {**signed_in(status), OTHER_USER: 404}


def own_only(status: int) -> Expectation:
    """The owner's alone: not even a superuser sees it."""
    return {**owned(status), SUPERUSER: 404}


def superuser_only(status: int) -> Expectation:
    return {**signed_in(403), SUPERUSER: status}


@dataclass
class World:
    """The owner's things, and a header per principal."""

    client: TestClient
    headers: dict[str, dict[str, str]]
    owner_email: str
    owner_id: uuid.UUID
    made: list[str] = field(default_factory=list)

    def ended_job(self) -> uuid.UUID:
        return ended_job(self.owner_id, {"out.txt": b"hi\n"})

    def queued_job(self) -> str:
        return self._made_by_owner("/jobs", json={"tool": "echo", "inputs": {"message": "hi"}})

    def file(self) -> str:
        response = self.client.post(
            f"{API}/files", headers=self.headers[OWNER], files={"file": ("a.txt", b"a\n")}
        )
        assert response.status_code == 201, response.text
        file_id: str = response.json()["id"]
        return file_id

    def schedule(self) -> str:
        return self._made_by_owner(
            "/schedules",
            json={"name": "n", "tool": "echo", "inputs": {"message": "x"}, "interval_seconds": 60},
        )

    def upload(self) -> str:
        response = self.client.post(
            f"{API}/uploads", headers={**self.headers[OWNER], **TUS, "Upload-Length": "2"}
        )
        assert response.status_code == 201, response.text
        return response.headers["location"].rsplit("/", 1)[1]

    def api_key_id(self) -> str:
        return self._made_by_owner("/users/me/api-keys", json={"name": "spare"})

    def new_email(self) -> str:
        self.made.append("user")
        return f"new-{len(self.made)}@example.com"

    def _made_by_owner(self, path: str, **request: Any) -> str:
        response = self.client.post(f"{API}{path}", headers=self.headers[OWNER], **request)
        assert response.status_code in {201, 202}, response.text
        made_id: str = response.json()["id"]
        return made_id


# What every tus request carries besides credentials.
TUS = {"Tus-Resumable": "1.0.0"}


@dataclass(frozen=True)
class Row:
    expect: Expectation
    # Path parameters and request options, made fresh for each principal.
    path: Callable[[World], dict[str, Any]] = lambda world: {}
    request: Callable[[World], dict[str, Any]] = lambda world: {}


def a_job(world: World) -> dict[str, Any]:
    return {"job_id": world.ended_job()}


def an_upload(world: World) -> dict[str, Any]:
    return {"upload_id": world.upload()}


EXPECTED: dict[str, Row] = {
    # Outside the API prefix and the API's own description: anyone.
    "GET /docs": Row(public(200)),
    "GET /docs/oauth2-redirect": Row(public(200)),
    "GET /redoc": Row(public(200)),
    f"GET {API}/openapi.json": Row(public(200)),
    f"GET {API}/health": Row(public(200)),
    f"GET {API}/health/ready": Row(public(200)),
    "GET /metrics": Row(public(200)),
    # Credentials in the body, not in a header: a header changes nothing.
    f"POST {API}/login/access-token": Row(
        public(200),
        request=lambda world: {"data": {"username": world.owner_email, "password": OWNER_PASSWORD}},
    ),
    f"GET {API}/tools": Row(signed_in(200)),
    f"GET {API}/tools/{{name}}": Row(signed_in(200), path=lambda world: {"name": "echo"}),
    # Every tool's typed submit route (see `typed_submit_route`): inputs of the wrong
    # type, so that each tool answers alike once the caller is known.
    f"POST {API}/tools/{{tool}}/jobs": Row(
        signed_in(422), request=lambda world: {"json": {"inputs": "not an object"}}
    ),
    f"POST {API}/jobs": Row(
        signed_in(202), request=lambda world: {"json": {"tool": "echo", "inputs": {"message": "x"}}}
    ),
    f"POST {API}/jobs/batch": Row(
        signed_in(202),
        request=lambda world: {"json": {"jobs": [{"tool": "echo", "inputs": {"message": "x"}}]}},
    ),
    f"GET {API}/jobs": Row(signed_in(200)),
    f"GET {API}/jobs/{{job_id}}": Row(owned(200), path=a_job),
    f"GET {API}/jobs/{{job_id}}/events": Row(owned(200), path=a_job),
    f"GET {API}/jobs/{{job_id}}/logs": Row(owned(200), path=a_job),
    f"GET {API}/jobs/{{job_id}}/artifacts": Row(owned(200), path=a_job),
    f"GET {API}/jobs/{{job_id}}/artifacts/{{name}}": Row(
        owned(200), path=lambda world: {"job_id": world.ended_job(), "name": "out.txt"}
    ),
    f"POST {API}/jobs/{{job_id}}/cancel": Row(
        owned(200), path=lambda world: {"job_id": world.queued_job()}
    ),
    f"DELETE {API}/jobs/{{job_id}}": Row(owned(204), path=a_job),
    f"POST {API}/files": Row(
        signed_in(201), request=lambda world: {"files": {"file": ("b.txt", b"b\n")}}
    ),
    f"GET {API}/files/{{file_id}}": Row(owned(200), path=lambda world: {"file_id": world.file()}),
    f"GET {API}/files/{{file_id}}/content": Row(
        owned(200), path=lambda world: {"file_id": world.file()}
    ),
    f"DELETE {API}/files/{{file_id}}": Row(
        owned(204), path=lambda world: {"file_id": world.file()}
    ),
    # Discovery needs no credentials; the rest are tus requests on the owner's upload.
    f"OPTIONS {API}/uploads": Row(public(204)),
    f"POST {API}/uploads": Row(
        signed_in(201), request=lambda world: {"headers": {**TUS, "Upload-Length": "2"}}
    ),
    f"GET {API}/uploads/{{upload_id}}": Row(owned(200), path=an_upload),
    f"PATCH {API}/uploads/{{upload_id}}": Row(
        owned(204),
        path=an_upload,
        request=lambda world: {
            "headers": {
                **TUS,
                "Upload-Offset": "0",
                "Content-Type": "application/offset+octet-stream",
            },
            "content": b"ab",
        },
    ),
    f"DELETE {API}/uploads/{{upload_id}}": Row(
        owned(204), path=an_upload, request=lambda world: {"headers": TUS}
    ),
    f"POST {API}/schedules": Row(
        signed_in(201),
        request=lambda world: {
            "json": {"name": "m", "tool": "echo", "inputs": {"message": "y"}, "cron": "0 2 * * *"}
        },
    ),
    f"GET {API}/schedules": Row(signed_in(200)),
    f"GET {API}/schedules/{{schedule_id}}": Row(
        owned(200), path=lambda world: {"schedule_id": world.schedule()}
    ),
    f"PATCH {API}/schedules/{{schedule_id}}": Row(
        owned(200),
        path=lambda world: {"schedule_id": world.schedule()},
        request=lambda world: {"json": {"enabled": False}},
    ),
    f"DELETE {API}/schedules/{{schedule_id}}": Row(
        owned(204), path=lambda world: {"schedule_id": world.schedule()}
    ),
    f"POST {API}/schedules/{{schedule_id}}/trigger": Row(
        owned(202), path=lambda world: {"schedule_id": world.schedule()}
    ),
    f"GET {API}/users/me": Row(signed_in(200)),
    f"GET {API}/users": Row(superuser_only(200)),
    f"POST {API}/users": Row(
        superuser_only(201),
        request=lambda world: {"json": {"email": world.new_email(), "password": "long-enough"}},
    ),
    f"PATCH {API}/users/{{user_id}}": Row(
        superuser_only(200),
        path=lambda world: {"user_id": world.owner_id},
        request=lambda world: {"json": {"max_queued_jobs": 50}},
    ),
    f"POST {API}/users/me/api-keys": Row(
        signed_in(201), request=lambda world: {"json": {"name": "n"}}
    ),
    f"GET {API}/users/me/api-keys": Row(signed_in(200)),
    f"DELETE {API}/users/me/api-keys/{{key_id}}": Row(
        own_only(204), path=lambda world: {"key_id": world.api_key_id()}
    ),
}

TYPED_SUBMIT = re.compile(rf"^{re.escape(API)}/tools/[^/{{}}]+/jobs$")


def typed_submit_route(path: str) -> str:
    """The one row for every tool's `POST /tools/<name>/jobs`: tools come and go by package."""
    return f"{API}/tools/{{tool}}/jobs" if TYPED_SUBMIT.match(path) else path


def route_table() -> list[tuple[str, str, str]]:
    """(row key, method, path) for every method of every route the app has."""
    found = []
    for route in iter_route_contexts(app.routes):
        # The catch-all that answers 404/405 for API paths takes every method, and the
        # front end's mount is static files: neither has any access to decide.
        if route.path is None or route.methods is None:
            continue
        # As OpenAPI names it: /jobs/{job_id}, not /jobs/{job_id:uuid}.
        path = route.path_format
        for method in sorted(route.methods - {"HEAD"}):
            found.append((f"{method} {typed_submit_route(path)}", method, path))
    return found


def make_world(client: TestClient) -> World:
    owner_email = "owner@example.com"
    owner_token = make_user(owner_email, password=OWNER_PASSWORD)
    owner_id = user_id_from_token(owner_token)
    assert owner_id is not None
    inactive_token = make_user("inactive@example.com")
    with SessionLocal() as session:
        session.execute(
            update(User).where(User.email == "inactive@example.com").values(is_active=False)
        )
        session.commit()
    expired = jwt.encode(
        {"sub": str(owner_id), "exp": datetime.now(UTC) - timedelta(seconds=1)},
        settings.SECRET_KEY,
        algorithm=JWT_ALGORITHM,
    )
    superuser_token = make_user("root@example.com", is_superuser=True)
    # A superuser's claims under the owner's signature: an owner making itself superuser.
    header, _, signature = owner_token.split(".")
    tampered = f"{header}.{superuser_token.split('.')[1]}.{signature}"
    headers = {
        ANONYMOUS: {},
        OWNER: auth(owner_token),
        OWNER_API_KEY: {"X-API-Key": make_api_key(owner_token)},
        OTHER_USER: auth(make_user("other@example.com")),
        SUPERUSER: auth(superuser_token),
        INACTIVE_USER: auth(inactive_token),
        EXPIRED_TOKEN: auth(expired),
        TAMPERED_TOKEN: auth(tampered),
    }
    return World(client=client, headers=headers, owner_email=owner_email, owner_id=owner_id)


def test_every_route_has_an_expectation() -> None:
    routes = {key for key, _, _ in route_table()}
    assert routes - EXPECTED.keys() == set(), "routes with no row in EXPECTED: decide their access"
    assert EXPECTED.keys() - routes == set(), "rows in EXPECTED for routes that are gone"
    for key, row in EXPECTED.items():
        assert set(row.expect) == set(PRINCIPALS), f"{key} does not say what each principal gets"


def test_every_route_answers_each_principal_as_expected(client: TestClient) -> None:
    world = make_world(client)
    wrong = []
    table = route_table()
    for key, method, path in table:
        row = EXPECTED[key]
        for principal in PRINCIPALS:
            params = row.path(world)
            url = path.format(**params)
            # The principal's credentials, and what the route needs besides (tus headers).
            request = row.request(world)
            headers = {**world.headers[principal], **request.pop("headers", {})}
            response = client.request(method, url, headers=headers, **request)
            if response.status_code != row.expect[principal]:
                wrong.append(
                    f"{method} {url} as {principal}: {response.status_code}, "
                    f"expected {row.expect[principal]} ({response.text[:120]})"
                )
            elif response.status_code == 404 and params:
                # Someone else's thing must read exactly as one that does not exist.
                unknown = {k: uuid.uuid4() if k.endswith("_id") else v for k, v in params.items()}
                twin = client.request(method, path.format(**unknown), headers=headers, **request)
                if (twin.status_code, twin.content) != (404, response.content):
                    wrong.append(f"{method} {url} as {principal} tells it exists: {response.text}")
    assert not wrong, "\n".join(wrong)
    # Every tool's typed route was asked, not only one.
    assert sum(key == f"POST {API}/tools/{{tool}}/jobs" for key, _, _ in table) >= 4
