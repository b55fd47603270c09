"""Every way a running job can end, with real worker processes."""

import hashlib
import hmac
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.core.celery_app import celery_app
from tests.support.job_api import submit_tool_job as submit
from tests.support.job_api import wait_for_end, wait_for_state
from tests.support.waiting import wait_until
from tests.support.webhook_receiver import Delivery, receiving


@pytest.mark.usefixtures("worker")
class TestWithAWorker:
    def test_cancel_a_running_job_that_reports_progress(
        self, client: TestClient, user_headers: dict[str, str]
    ) -> None:
        job = submit(client, user_headers, "sleep", {"seconds": 30, "steps": 300})
        wait_for_state(client, user_headers, job["id"], "running")
        started = time.monotonic()
        asked = client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=user_headers)
        assert asked.status_code == 200
        assert asked.json()["cancel_requested"] is True
        ended = wait_for_end(client, user_headers, job["id"])
        assert ended["state"] == "cancelled"
        assert time.monotonic() - started < 5

    def test_cancel_a_running_tool_that_never_checks_terminates_it(
        self, client: TestClient, user_headers: dict[str, str], worker: subprocess.Popen[bytes]
    ) -> None:
        job = submit(client, user_headers, "stubborn", {"seconds": 2.5})
        wait_for_state(client, user_headers, job["id"], "running")
        started = time.monotonic()
        client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=user_headers)
        ended = wait_for_end(client, user_headers, job["id"])
        assert ended["state"] == "cancelled"
        assert time.monotonic() - started < 5
        # The worker replaced the terminated process and runs the next job.
        assert worker.poll() is None
        after = submit(client, user_headers, "echo", {"message": "still here"})
        assert wait_for_end(client, user_headers, after["id"])["state"] == "succeeded"

    def test_time_limit_fails_the_job_with_timeout(
        self, client: TestClient, user_headers: dict[str, str]
    ) -> None:
        job = submit(client, user_headers, "stubborn", {"seconds": 10})
        ended = wait_for_end(client, user_headers, job["id"])
        assert ended["state"] == "failed"
        assert ended["error"]["type"] == "timeout"

    def test_transient_errors_are_retried_then_succeed(
        self, client: TestClient, user_headers: dict[str, str], tmp_path: Path
    ) -> None:
        job = submit(client, user_headers, "flaky", {"folder": str(tmp_path), "failures": 2})
        ended = wait_for_end(client, user_headers, job["id"])
        assert ended["state"] == "succeeded"
        assert (ended["outputs"]["tries"], ended["attempt"]) == (3, 3)

    def test_transient_errors_past_max_attempts_fail(
        self, client: TestClient, user_headers: dict[str, str], tmp_path: Path
    ) -> None:
        job = submit(client, user_headers, "flaky", {"folder": str(tmp_path), "failures": 5})
        ended = wait_for_end(client, user_headers, job["id"])
        assert ended["state"] == "failed"
        assert ended["attempt"] == 3
        assert "ConnectionError" in ended["error"]["message"]

    def test_wait_answers_as_soon_as_the_job_ends(
        self, client: TestClient, user_headers: dict[str, str]
    ) -> None:
        job = submit(client, user_headers, "sleep", {"seconds": 1, "steps": 2})
        started = time.monotonic()
        ended = client.get(
            f"/api/v1/jobs/{job['id']}", headers=user_headers, params={"wait": 30}
        ).json()
        assert ended["state"] == "succeeded"
        assert time.monotonic() - started < 5

    def test_events_stream_the_job_until_it_ends_and_resume(
        self, client: TestClient, user_headers: dict[str, str]
    ) -> None:
        job = submit(client, user_headers, "sleep", {"seconds": 1, "steps": 4})
        url = f"/api/v1/jobs/{job['id']}/events"
        events: list[tuple[str, dict[str, Any]]] = []
        with client.stream("GET", url, headers=user_headers) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            event_id = ""
            for line in stream.iter_lines():
                if line.startswith("id:"):
                    event_id = line.removeprefix("id:").strip()
                elif line.startswith("data:"):
                    events.append((event_id, json.loads(line.removeprefix("data:"))))
        states = [data["state"] for _, data in events]
        assert states[-1] == "succeeded"
        assert "running" in states
        progress = [data["progress"] for _, data in events]
        assert progress == sorted(progress)
        assert len({event_id for event_id, _ in events}) == len(events)
        # Reconnecting with the last id sends nothing already seen, and ends.
        last_id = events[-1][0]
        with client.stream("GET", url, headers={**user_headers, "Last-Event-ID": last_id}) as again:
            assert not [line for line in again.iter_lines() if line.startswith("data:")]

    def test_logs_live_and_kept(self, client: TestClient, user_headers: dict[str, str]) -> None:
        job = submit(client, user_headers, "sleep", {"seconds": 1, "steps": 4})
        wait_for_end(client, user_headers, job["id"])
        log = client.get(f"/api/v1/jobs/{job['id']}/logs", headers=user_headers)
        assert log.text.splitlines() == [f"slept step {n}" for n in range(1, 5)]
        assert log.headers["X-Next-Offset"] == "4"
        rest = client.get(
            f"/api/v1/jobs/{job['id']}/logs", headers=user_headers, params={"offset": 3}
        )
        assert rest.text == "slept step 4\n"

    def test_deleting_an_ended_job_removes_its_artifacts(
        self, client: TestClient, user_headers: dict[str, str]
    ) -> None:
        upload = client.post(
            "/api/v1/files", headers=user_headers, files={"file": ("a.txt", b"abc" * 100)}
        ).json()
        job = submit(client, user_headers, "compress", {"file": upload["id"]})
        wait_for_end(client, user_headers, job["id"])
        from app.core.config import settings

        job_folder = settings.storage_dir / "jobs" / job["id"]
        assert (job_folder / "artifacts" / "a.txt.gz").exists()
        assert client.delete(f"/api/v1/jobs/{job['id']}", headers=user_headers).status_code == 204
        assert not job_folder.exists()


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[Delivery]]]:
    with receiving() as (base_url, received):
        yield f"{base_url}/hook", received


@pytest.mark.usefixtures("worker")
def test_a_signed_webhook_tells_the_job_ended(
    client: TestClient, user_headers: dict[str, str], webhook: tuple[str, list[Delivery]]
) -> None:
    webhook_url, received = webhook
    job = submit(client, user_headers, "echo", {"message": "hook"}, callback_url=webhook_url)
    wait_until(lambda: received, timeout=20)
    headers, body = received[0].headers, received[0].body
    expected = hmac.new(b"webhook-secret-for-tests", body, hashlib.sha256).hexdigest()
    assert headers["X-Tooljobs-Signature"] == f"sha256={expected}"
    delivered = json.loads(body)
    assert (delivered["id"], delivered["state"]) == (job["id"], "succeeded")


@pytest.mark.usefixtures("worker")
def test_a_job_cancelled_before_it_ran_tells_its_webhook(
    client: TestClient, user_headers: dict[str, str], webhook: tuple[str, list[Delivery]]
) -> None:
    webhook_url, received = webhook
    # The worker stops taking jobs of the heavy queue, so that one stays queued; it
    # still runs the webhook's delivery.
    assert celery_app.control.cancel_consumer("heavy", reply=True)
    try:
        queued = submit(
            client, user_headers, "heavy-echo", {"message": "never"}, callback_url=webhook_url
        )
        cancelled = client.post(f"/api/v1/jobs/{queued['id']}/cancel", headers=user_headers)
        assert (cancelled.status_code, cancelled.json()["state"]) == (200, "cancelled")
        wait_until(lambda: received, timeout=20)
    finally:
        celery_app.control.add_consumer("heavy", reply=True)
    delivered = json.loads(received[0].body)
    assert (delivered["id"], delivered["state"]) == (queued["id"], "cancelled")


@pytest.mark.usefixtures("worker")
def test_a_dead_webhook_endpoint_does_not_delay_the_job(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    started = time.monotonic()
    job = submit(
        client, user_headers, "echo", {"message": "x"}, callback_url="http://127.0.0.1:1/dead"
    )
    assert wait_for_end(client, user_headers, job["id"])["state"] == "succeeded"
    assert time.monotonic() - started < 5
