"""Schedules: the REST API, slot computation, and the dispatcher (racing, overlap, catch-up)."""

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from croniter import croniter
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis.strategies import from_regex

from app.db.base_class import utcnow
from app.db.session import SessionLocal
from app.models.job import Job
from app.models.schedule import Schedule
from app.schemas.schedule import CRON_PATTERN
from app.services.schedule_times import next_run_after
from app.worker.tasks import dispatch_schedules

ECHO_EVERY_MINUTE = {
    "name": "ping",
    "tool": "echo",
    "inputs": {"message": "hi"},
    "cron": "* * * * *",
}


def create(client: TestClient, headers: dict[str, str], **body: Any) -> Any:
    return client.post("/api/v1/schedules", headers=headers, json={**ECHO_EVERY_MINUTE, **body})


def make_due(schedule_id: str, *, missed: timedelta = timedelta(seconds=1)) -> None:
    with SessionLocal() as session:
        schedule = session.get(Schedule, uuid.UUID(schedule_id))
        assert schedule is not None
        schedule.next_run_at = utcnow() - missed
        session.commit()


def jobs_of(schedule_id: str) -> list[Job]:
    with SessionLocal() as session:
        return list(session.query(Job).filter(Job.schedule_id == uuid.UUID(schedule_id)))


def test_create_read_update_delete(client: TestClient, user_headers: dict[str, str]) -> None:
    created = create(client, user_headers, timezone="Europe/Berlin")
    assert created.status_code == 201
    schedule = created.json()
    assert schedule["next_run_at"] is not None
    assert (schedule["overlap"], schedule["enabled"], schedule["run_count"]) == ("skip", True, 0)
    url = f"/api/v1/schedules/{schedule['id']}"
    assert client.get(url, headers=user_headers).json() == schedule
    assert [s["id"] for s in client.get("/api/v1/schedules", headers=user_headers).json()] == [
        schedule["id"]
    ]
    changed = client.patch(
        url, headers=user_headers, json={"interval_seconds": 60, "enabled": False}
    )
    assert changed.status_code == 200
    assert (changed.json()["cron"], changed.json()["interval_seconds"]) == (None, 60)
    assert client.delete(url, headers=user_headers).status_code == 204
    assert client.get(url, headers=user_headers).status_code == 404


@pytest.mark.parametrize(
    ("body", "location"),
    [
        ({"tool": "nope"}, ["body", "tool"]),
        ({"inputs": {}}, ["body", "inputs", "message"]),
        ({"inputs": {"message": "hi", "mesage": "hi"}}, ["body", "inputs", "mesage"]),
        ({"cron": "every day"}, ["body", "cron"]),
        ({"cron": "0 0 * * * *"}, ["body", "cron"]),
        ({"timezone": "Mars/Olympus"}, ["body", "timezone"]),
        ({"interval_seconds": 0, "cron": None}, ["body", "interval_seconds"]),
        ({"interval_seconds": 60}, ["body"]),
        ({"interval_seconds": True, "cron": None}, ["body", "interval_seconds"]),
        ({"enabled": 0}, ["body", "enabled"]),
        ({"start_at": 1700000000}, ["body", "start_at"]),
        ({"timezone": "UTC", "colour": "red"}, ["body", "colour"]),
    ],
)
def test_bad_schedules_are_422_naming_the_field(
    client: TestClient, user_headers: dict[str, str], body: dict[str, Any], location: list[str]
) -> None:
    response = create(client, user_headers, **body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == location


def test_a_window_without_slots_is_kept_and_never_runs(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    # As a window that ended: what JSON Schema cannot compare is not refused.
    response = create(
        client, user_headers, start_at="2030-01-02T00:00:00Z", end_at="2030-01-01T00:00:00Z"
    )
    assert response.status_code == 201, response.text
    assert response.json()["next_run_at"] is None


def test_a_change_of_inputs_names_their_tool_and_is_checked_against_it(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    url = f"/api/v1/schedules/{create(client, user_headers).json()['id']}"
    alone = client.patch(url, headers=user_headers, json={"inputs": {"message": "again"}})
    assert alone.status_code == 422
    assert alone.json()["detail"][0]["loc"] == ["body"]
    wrong = client.patch(url, headers=user_headers, json={"tool": "sleep", "inputs": {"x": 1}})
    assert wrong.status_code == 422
    assert ["body", "inputs", "seconds"] in [error["loc"] for error in wrong.json()["detail"]]
    changed = client.patch(
        url, headers=user_headers, json={"tool": "sleep", "inputs": {"seconds": 0.1}}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["tool"], changed.json()["inputs"]["seconds"]) == ("sleep", 0.1)


def test_a_file_input_must_be_the_owners_at_creation_and_change(
    client: TestClient, user_headers: dict[str, str], other_user_headers: dict[str, str]
) -> None:
    def upload(headers: dict[str, str]) -> str:
        uploaded = client.post(
            "/api/v1/files", headers=headers, files={"file": ("a.txt", b"text", "text/plain")}
        )
        assert uploaded.status_code == 201, uploaded.text
        return str(uploaded.json()["id"])

    mine, theirs, unknown = upload(user_headers), upload(other_user_headers), str(uuid.uuid4())
    for file_id in (theirs, unknown):
        refused = create(client, user_headers, tool="checksum", inputs={"file": file_id})
        assert refused.status_code == 404, refused.text
        assert refused.json()["detail"].startswith("inputs.file: no file with this id")
    created = create(client, user_headers, tool="checksum", inputs={"file": mine})
    assert created.status_code == 201, created.text

    url = f"/api/v1/schedules/{created.json()['id']}"
    changed = client.patch(
        url, headers=user_headers, json={"tool": "checksum", "inputs": {"file": theirs}}
    )
    assert changed.status_code == 404, changed.text
    assert client.get(url, headers=user_headers).json()["inputs"] == {
        "file": mine,
        "algorithm": "sha256",
    }


def test_a_change_that_leaves_no_timing_conflicts(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    url = f"/api/v1/schedules/{create(client, user_headers).json()['id']}"
    assert client.patch(url, headers=user_headers, json={"cron": None}).status_code == 409
    assert (
        client.patch(url, headers=user_headers, json={"interval_seconds": None}).status_code == 200
    )


def test_schedules_are_owner_scoped(
    client: TestClient, user_headers: dict[str, str], other_user_headers: dict[str, str]
) -> None:
    schedule = create(client, other_user_headers).json()
    url = f"/api/v1/schedules/{schedule['id']}"
    assert client.get(url, headers=user_headers).status_code == 404
    assert client.patch(url, headers=user_headers, json={"enabled": False}).status_code == 404
    assert client.post(f"{url}/trigger", headers=user_headers).status_code == 404
    assert client.delete(url, headers=user_headers).status_code == 404
    assert client.get("/api/v1/schedules", headers=user_headers).json() == []


def test_trigger_runs_once_now_and_jobs_list_by_schedule(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    schedule = create(client, user_headers).json()
    job = client.post(f"/api/v1/schedules/{schedule['id']}/trigger", headers=user_headers)
    assert job.status_code == 202
    assert job.json()["schedule_id"] == schedule["id"]
    listed = client.get(
        "/api/v1/jobs", headers=user_headers, params={"schedule_id": schedule["id"]}
    ).json()["items"]
    assert [item["id"] for item in listed] == [job.json()["id"]]


def test_due_schedule_runs_once_and_advances(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    schedule = create(client, user_headers, overlap="allow").json()
    make_due(schedule["id"])
    assert dispatch_schedules() == 1
    assert dispatch_schedules() == 0
    after = client.get(f"/api/v1/schedules/{schedule['id']}", headers=user_headers).json()
    assert after["run_count"] == 1
    assert after["next_run_at"] > after["last_run_at"]
    assert len(jobs_of(schedule["id"])) == 1


def test_after_an_outage_missed_slots_run_once(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    schedule = create(client, user_headers, overlap="allow").json()
    make_due(schedule["id"], missed=timedelta(hours=1))  # sixty slots of a minute missed
    assert dispatch_schedules() == 1
    assert dispatch_schedules() == 0
    assert len(jobs_of(schedule["id"])) == 1


def test_overlap_skip_waits_for_the_previous_job(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    skipping = create(client, user_headers).json()
    allowing = create(client, user_headers, name="allow", overlap="allow").json()
    for schedule in (skipping, allowing):
        make_due(schedule["id"])
    assert dispatch_schedules() == 2
    for schedule in (skipping, allowing):
        make_due(schedule["id"])
    # No worker runs here: the first jobs are still queued.
    assert dispatch_schedules() == 1
    assert (len(jobs_of(skipping["id"])), len(jobs_of(allowing["id"]))) == (1, 2)


def test_two_dispatchers_racing_start_each_run_exactly_once(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    ids = [
        create(client, user_headers, name=f"s{n}", overlap="allow").json()["id"] for n in range(40)
    ]
    created: list[int] = []

    def dispatch(barrier: threading.Barrier) -> None:
        barrier.wait()
        created.append(dispatch_schedules())

    for _round in range(3):
        for schedule_id in ids:
            make_due(schedule_id)
        barrier = threading.Barrier(4)
        threads = [threading.Thread(target=dispatch, args=(barrier,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sum(created) == 3 * 40
    assert sorted(len(jobs_of(schedule_id)) for schedule_id in ids) == [3] * 40


def schedule_at(cron: str, zone: str = "Europe/Berlin") -> Schedule:
    return Schedule(cron=cron, timezone=zone, interval_seconds=None, start_at=None, end_at=None)


def runs(schedule: Schedule, start: datetime, count: int) -> list[datetime]:
    found, moment = [], start
    for _ in range(count):
        moment = next_run_after(schedule, moment)
        assert moment is not None
        found.append(moment)
    return found


def test_cron_follows_the_zone_across_daylight_saving_changes() -> None:
    nightly = schedule_at("0 2 * * *")
    autumn = runs(nightly, datetime(2026, 10, 23, 12, tzinfo=UTC), 3)
    # 02:00 CEST is 00:00 UTC; after clocks go back 02:00 CET is 01:00 UTC; once a night.
    assert [run.isoformat() for run in autumn] == [
        "2026-10-24T00:00:00+00:00",
        "2026-10-25T00:00:00+00:00",
        "2026-10-26T01:00:00+00:00",
    ]
    spring = runs(nightly, datetime(2026, 3, 27, 12, tzinfo=UTC), 3)
    # 02:00 does not exist on 29 March: it runs at 03:00 CEST (01:00 UTC).
    assert [run.isoformat() for run in spring] == [
        "2026-03-28T01:00:00+00:00",
        "2026-03-29T01:00:00+00:00",
        "2026-03-30T00:00:00+00:00",
    ]


def test_interval_slots_respect_start_and_end() -> None:
    start = datetime(2030, 1, 1, tzinfo=UTC)
    every_ten = Schedule(
        cron=None, interval_seconds=10, start_at=start, end_at=start + timedelta(seconds=25)
    )
    assert runs(every_ten, start - timedelta(days=1), 2) == [start, start + timedelta(seconds=10)]
    assert next_run_after(every_ten, start + timedelta(seconds=21)) is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"start_at": "2030-01-01T00:00:00"}, "timezone"),
        ({"end_at": "2030-01-01T00:00:00"}, "timezone"),
    ],
)
def test_times_without_a_zone_are_422(
    client: TestClient, user_headers: dict[str, str], body: dict[str, str], message: str
) -> None:
    response = create(client, user_headers, **body)
    assert response.status_code == 422
    assert message in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    "field", ["timezone", "name", "enabled", "overlap", "tool", "inputs", "labels"]
)
def test_patching_a_required_field_to_null_is_422(
    client: TestClient, user_headers: dict[str, str], field: str
) -> None:
    schedule = create(client, user_headers).json()
    url = f"/api/v1/schedules/{schedule['id']}"
    response = client.patch(url, headers=user_headers, json={field: None})
    assert response.status_code == 422
    assert f"{field} cannot be null" in response.json()["detail"][0]["msg"]
    assert client.get(url, headers=user_headers).json() == schedule


@settings(max_examples=300, deadline=None, database=None)
@given(expression=from_regex(CRON_PATTERN))
def test_every_cron_expression_the_schema_admits_is_one_croniter_reads(expression: str) -> None:
    # The document states CRON_PATTERN; a request that matches it must not be refused.
    assert croniter.is_valid(expression), expression
