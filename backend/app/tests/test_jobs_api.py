"""The job API without a worker: submitting, validating, reading and listing."""

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from app.db.session import engine
from app.worker.redis_db import jobs as hot_jobs
from app.worker.redis_db.connection import client as redis_client
from tests.support.job_api import submit


def error_locations(response: Any) -> set[tuple[Any, ...]]:
    assert response.status_code == 422, response.text
    return {tuple(error["loc"]) for error in response.json()["detail"]}


def test_submit_answers_202_with_location_and_a_queued_job(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    response = submit(
        client,
        user_headers,
        inputs={"message": "hi", "payload": [1, {"a": None}]},
        priority=7,
        labels={"project": "x"},
    )
    assert response.status_code == 202
    job = response.json()
    assert response.headers["Location"] == f"/api/v1/jobs/{job['id']}"
    assert job["state"] == "queued"
    assert job["tool_version"] == "1.0.0"
    assert job["inputs"] == {"message": "hi", "payload": [1, {"a": None}]}
    assert (job["priority"], job["labels"], job["attempt"]) == (7, {"project": "x"}, 0)
    assert client.get(response.headers["Location"], headers=user_headers).json() == job


def test_typed_tool_route_submits_the_same_job(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    response = client.post(
        "/api/v1/tools/sleep/jobs", headers=user_headers, json={"inputs": {"seconds": 0.5}}
    )
    assert response.status_code == 202
    assert response.json()["tool"] == "sleep"
    assert response.json()["inputs"] == {"seconds": 0.5, "steps": 10}
    bad = client.post("/api/v1/tools/sleep/jobs", headers=user_headers, json={"inputs": {}})
    assert error_locations(bad) == {("body", "inputs", "seconds")}
    typo = {"inputs": {"seconds": 1, "step": 2}}
    unknown = client.post("/api/v1/tools/sleep/jobs", headers=user_headers, json=typo)
    assert error_locations(unknown) == {("body", "inputs", "step")}
    assert unknown.json()["detail"][0]["type"] == "extra_forbidden"


@pytest.mark.parametrize(
    ("body", "location"),
    [
        ({"tool": "nope"}, ("body", "tool")),
        ({"inputs": {}}, ("body", "inputs", "message")),
        ({"inputs": {"message": 5}}, ("body", "inputs", "message")),
        ({"tool": "sleep", "inputs": {"seconds": 4000}}, ("body", "inputs", "seconds")),
        ({"priority": 10}, ("body", "priority")),
        ({"priority": "high"}, ("body", "priority")),
        ({"labels": {"k": 1}}, ("body", "labels", "k")),
        ({"inputs": "not an object"}, ("body", "inputs")),
        ({"inputs": {"message": "hi", "mesage": "hi"}}, ("body", "inputs", "mesage")),
    ],
)
def test_bad_submissions_are_422_naming_the_field(
    client: TestClient, user_headers: dict[str, str], body: dict[str, Any], location: tuple[str]
) -> None:
    assert location in error_locations(submit(client, user_headers, **body))


def test_malformed_json_is_422(client: TestClient, user_headers: dict[str, str]) -> None:
    response = client.post(
        "/api/v1/jobs",
        headers={**user_headers, "Content-Type": "application/json"},
        content=b'{"tool": "echo",',
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


def test_jobs_need_credentials(client: TestClient) -> None:
    assert submit(client, {}).status_code == 401
    assert client.get("/api/v1/jobs").status_code == 401
    assert client.get(f"/api/v1/jobs/{uuid.uuid4()}").status_code == 401


def test_unknown_and_other_users_jobs_are_404(
    client: TestClient, user_headers: dict[str, str], other_user_headers: dict[str, str]
) -> None:
    job = submit(client, other_user_headers).json()
    assert client.get(f"/api/v1/jobs/{job['id']}", headers=user_headers).status_code == 404
    assert client.get(f"/api/v1/jobs/{uuid.uuid4()}", headers=user_headers).status_code == 404
    # Not an id at all: no route takes it (so /jobs/batch is never read as one).
    assert client.get("/api/v1/jobs/not-a-uuid", headers=user_headers).status_code == 404
    assert client.get("/api/v1/jobs", headers=user_headers).json()["items"] == []


def test_superuser_sees_every_job(
    client: TestClient, user_headers: dict[str, str], superuser_headers: dict[str, str]
) -> None:
    job = submit(client, user_headers).json()
    assert client.get(f"/api/v1/jobs/{job['id']}", headers=superuser_headers).status_code == 200
    listed = client.get("/api/v1/jobs", headers=superuser_headers).json()["items"]
    assert [item["id"] for item in listed] == [job["id"]]


def test_list_is_newest_first_paged_by_cursor_and_filtered(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    submitted = [submit(client, user_headers).json()["id"] for _ in range(5)]
    sleep_job = client.post(
        "/api/v1/tools/sleep/jobs", headers=user_headers, json={"inputs": {"seconds": 1}}
    ).json()["id"]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, "tool": "echo"}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/v1/jobs", headers=user_headers, params=params).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(submitted))
    by_state = client.get("/api/v1/jobs", headers=user_headers, params={"state": "queued"})
    assert len(by_state.json()["items"]) == 6
    sleeps = client.get("/api/v1/jobs", headers=user_headers, params={"tool": "sleep"}).json()
    assert [item["id"] for item in sleeps["items"]] == [sleep_job]


@pytest.mark.parametrize(
    ("params", "location"),
    [
        ({"cursor": "garbage!"}, ("query", "cursor")),
        ({"state": "pending"}, ("query", "state")),
        ({"limit": 0}, ("query", "limit")),
        ({"limit": 1000}, ("query", "limit")),
    ],
)
def test_bad_list_parameters_are_422(
    client: TestClient, user_headers: dict[str, str], params: dict[str, Any], location: tuple[str]
) -> None:
    response = client.get("/api/v1/jobs", headers=user_headers, params=params)
    assert location in error_locations(response)


@pytest.fixture
def sql_statements() -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield statements
    event.remove(engine, "before_cursor_execute", record)


def test_reading_a_job_needs_no_sql_when_redis_has_it(
    client: TestClient, user_headers: dict[str, str], sql_statements: list[str]
) -> None:
    job = submit(client, user_headers).json()
    client.get(f"/api/v1/jobs/{job['id']}", headers=user_headers)  # caches the principal
    sql_statements.clear()
    response = client.get(f"/api/v1/jobs/{job['id']}", headers=user_headers)
    assert response.json()["id"] == job["id"]
    assert sql_statements == []


def test_a_poll_reads_the_job_from_redis_once(
    client: TestClient, user_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    job = submit(client, user_headers).json()
    reads: list[uuid.UUID] = []
    load_job_json = hot_jobs.load_job_json

    async def counted(job_id: uuid.UUID) -> Any:
        reads.append(job_id)
        return await load_job_json(job_id)

    monkeypatch.setattr(hot_jobs, "load_job_json", counted)
    response = client.get(f"/api/v1/jobs/{job['id']}", headers=user_headers)
    assert response.json()["state"] == "queued"
    assert reads == [uuid.UUID(job["id"])]


def test_reading_falls_back_to_postgres_and_refills_redis(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    job = submit(client, user_headers).json()
    redis_client().flushdb()  # Redis lost everything
    response = client.get(f"/api/v1/jobs/{job['id']}", headers=user_headers)
    assert response.status_code == 200
    assert response.json() == job
    refilled = hot_jobs.load_job(uuid.UUID(job["id"]))
    assert refilled is not None
    assert refilled.model_dump(mode="json") == job


def test_an_older_snapshot_never_replaces_a_newer_one(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    from datetime import timedelta

    from app.models.job import JobState
    from app.schemas.job import JobRead

    job = JobRead.model_validate(submit(client, user_headers).json())
    newer = job.model_copy(
        update={"state": JobState.running, "updated_at": job.updated_at + timedelta(seconds=1)}
    )
    assert hot_jobs.save_job(newer)
    assert not hot_jobs.save_job(job)
    stored = hot_jobs.load_job(job.id)
    assert stored is not None
    assert stored.state is JobState.running


def test_the_sent_mark_holds_when_a_worker_mirrored_the_job_first(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    from datetime import timedelta

    from app.models.job import JobState
    from app.schemas.job import JobRead

    submitted = JobRead.model_validate(submit(client, user_headers).json())
    queued = submitted.model_copy(update={"id": uuid.uuid4()})
    taken = queued.model_copy(
        update={"state": JobState.running, "updated_at": queued.updated_at + timedelta(seconds=1)}
    )
    assert hot_jobs.save_job(taken)
    assert hot_jobs.was_sent([queued.id]) == [False]
    # The sender's snapshot arrives late, after the worker's.
    assert not hot_jobs.save_job(queued, sent=True)
    assert hot_jobs.was_sent([queued.id]) == [True]
    stored = hot_jobs.load_job(queued.id)
    assert stored is not None
    assert stored.state is JobState.running


@pytest.mark.parametrize("path", ["/api/v1/users", "/api/v1/schedules"])
def test_offsets_past_any_database_integer_are_422(
    client: TestClient, superuser_headers: dict[str, str], path: str
) -> None:
    response = client.get(path, headers=superuser_headers, params={"offset": 10**20})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "offset"]
