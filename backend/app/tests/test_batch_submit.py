"""POST /jobs/batch: all items validated first, one transaction, sends together, ids in
order, an idempotency key per item, and nothing queued when anything is wrong."""

import subprocess
import time
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.db.session import SessionLocal
from app.models.job import Job
from app.worker.redis_db import jobs as hot_jobs
from tests.support.broker import close_the_broker
from tests.support.job_api import wait_for_end

BATCH = "/api/v1/jobs/batch"


def echo(message: str, **extra: Any) -> dict[str, Any]:
    return {"tool": "echo", "inputs": {"message": message}, **extra}


def job_count() -> int:
    with SessionLocal() as session:
        return session.query(Job).count()


def test_a_batch_runs_every_job_and_answers_ids_in_order(
    client: TestClient, user_headers: dict[str, str], worker: subprocess.Popen[bytes]
) -> None:
    messages = [f"job {n}" for n in range(25)]
    response = client.post(
        BATCH, headers=user_headers, json={"jobs": [echo(m, labels={"n": m}) for m in messages]}
    )
    assert response.status_code == 202, response.text
    ids = response.json()["ids"]
    assert len(set(ids)) == len(messages)
    for job_id, message in zip(ids, messages, strict=True):
        job = wait_for_end(client, user_headers, job_id)
        assert (job["state"], job["outputs"]["message"], job["labels"]) == (
            "succeeded",
            message,
            {"n": message},
        )


def test_every_new_job_is_mirrored_as_sent(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    ids = client.post(BATCH, headers=user_headers, json={"jobs": [echo("a"), echo("b")]}).json()[
        "ids"
    ]
    # The re-send sweep leaves them alone: the broker has their tasks.
    assert hot_jobs.was_sent([uuid.UUID(job_id) for job_id in ids]) == [True, True]
    snapshot = hot_jobs.load_job(uuid.UUID(ids[1]))
    assert snapshot is not None
    assert snapshot.inputs["message"] == "b"


def test_one_bad_item_is_a_422_naming_its_index_and_nothing_is_queued(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    jobs = [echo("fine")] * 20
    jobs[7] = {"tool": "echo", "inputs": {"message": 42.5}}
    jobs[17] = {"tool": "no-such-tool", "inputs": {}}
    response = client.post(BATCH, headers=user_headers, json={"jobs": jobs})
    assert response.status_code == 422, response.text
    locations = [error["loc"] for error in response.json()["detail"]]
    assert ["body", "jobs", 7, "inputs", "message"] in locations
    assert ["body", "jobs", 17, "tool"] in locations
    assert job_count() == 0


@pytest.mark.parametrize(
    ("body", "location"),
    [
        ({"jobs": []}, ["body", "jobs"]),
        ({"jobs": [echo("x")] * 1001}, ["body", "jobs"]),
        ({"jobs": [echo("x"), {"inputs": {}}]}, ["body", "jobs", 1, "tool"]),
        ({"jobs": [echo("x", priority=10)]}, ["body", "jobs", 0, "priority"]),
        (
            {"jobs": [echo("x"), {"tool": "echo", "inputs": {"message": "y", "mesage": "y"}}]},
            ["body", "jobs", 1, "inputs", "mesage"],
        ),
        ({"jobs": [echo("x", idempotency_key="a\nb")]}, ["body", "jobs", 0, "idempotency_key"]),
    ],
)
def test_malformed_batches_name_the_field(
    client: TestClient, user_headers: dict[str, str], body: dict[str, Any], location: list[Any]
) -> None:
    response = client.post(BATCH, headers=user_headers, json=body)
    assert response.status_code == 422, response.text
    assert location in [error["loc"] for error in response.json()["detail"]]
    assert job_count() == 0


def test_an_item_key_replays_its_earlier_job(
    client: TestClient, user_headers: dict[str, str], other_user_headers: dict[str, str]
) -> None:
    first = client.post(
        BATCH, headers=user_headers, json={"jobs": [echo("a", idempotency_key="k-a"), echo("b")]}
    ).json()["ids"]
    again = client.post(
        BATCH,
        headers=user_headers,
        json={"jobs": [echo("c"), echo("a", idempotency_key="k-a")]},
    ).json()["ids"]
    assert again[1] == first[0]
    assert again[0] not in first
    assert job_count() == 3
    # A key is the submitter's own: another user's same key is another job.
    theirs = client.post(
        BATCH, headers=other_user_headers, json={"jobs": [echo("a", idempotency_key="k-a")]}
    ).json()["ids"]
    assert theirs[0] not in first
    # The single submit and the batch share the keys.
    single = client.post(
        "/api/v1/jobs", headers={**user_headers, "Idempotency-Key": "k-a"}, json=echo("a")
    )
    assert (single.status_code, single.json()["id"]) == (200, first[0])


def test_an_item_key_used_for_another_request_is_a_409_naming_the_item(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    client.post(BATCH, headers=user_headers, json={"jobs": [echo("a", idempotency_key="k")]})
    response = client.post(
        BATCH, headers=user_headers, json={"jobs": [echo("x"), echo("other", idempotency_key="k")]}
    )
    assert response.status_code == 409
    assert response.json()["detail"].startswith("jobs[1]: ")
    assert job_count() == 1


def test_a_key_twice_in_one_batch_is_one_job_or_a_409_for_two_requests(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    # As the same key sent twice with POST /jobs.
    same = client.post(
        BATCH,
        headers=user_headers,
        json={"jobs": [echo("a", idempotency_key="k"), echo("b"), echo("a", idempotency_key="k")]},
    )
    assert same.status_code == 202, same.text
    ids = same.json()["ids"]
    assert ids[0] == ids[2] != ids[1]
    assert job_count() == 2
    other = client.post(
        BATCH,
        headers=user_headers,
        json={"jobs": [echo("c", idempotency_key="j"), echo("d", idempotency_key="j")]},
    )
    assert other.status_code == 409
    assert other.json()["detail"].startswith("jobs[1]: ")
    assert job_count() == 2


def test_another_users_batch_cannot_read_the_jobs(
    client: TestClient, user_headers: dict[str, str], other_user_headers: dict[str, str]
) -> None:
    ids = client.post(BATCH, headers=user_headers, json={"jobs": [echo("mine")]}).json()["ids"]
    assert client.get(f"/api/v1/jobs/{ids[0]}", headers=other_user_headers).status_code == 404
    assert client.get(f"/api/v1/jobs/{ids[0]}", headers=user_headers).status_code == 200


def test_broker_down_at_a_batch_is_503_and_keeps_no_job(
    client: TestClient, user_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    close_the_broker(monkeypatch)
    started = time.monotonic()
    response = client.post(BATCH, headers=user_headers, json={"jobs": [echo("a"), echo("b")]})
    assert response.status_code == 503
    assert "nothing was submitted" in response.json()["detail"]
    assert time.monotonic() - started < 15
    assert job_count() == 0
