"""A job's start reaches Redis once the job has run a moment, or at its first sign of
life; a job that ends sooner is mirrored at its end only (start_mirror). A job shown
running before any sign of life: test_worker."""

import json
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from redis.client import PubSub

from app.db.session import SessionLocal
from app.models.job import JobState
from app.services.execution import run, start_mirror
from app.services.execution.runtime import WorkerRuntime
from app.services.job_lifecycle import start_job
from app.worker.redis_db import jobs as hot_jobs
from app.worker.redis_db import keys
from app.worker.redis_db.connection import client as redis_client
from tests.support.job_api import submit_tool_job
from tests.support.jobs import job_row, run_job_here


@contextmanager
def published_states(job_id: uuid.UUID) -> Iterator[list[str]]:
    """The states published on the job's channel while the block runs."""
    subscription: PubSub = redis_client().pubsub()
    subscription.subscribe(keys.job_channel(job_id))
    assert subscription.get_message(timeout=5) is not None  # the confirmation
    states: list[str] = []
    try:
        yield states
    finally:
        while (message := subscription.get_message(timeout=0.5)) is not None:
            state = json.loads(message["data"]).get("state")
            if state is not None:
                states.append(state)
        subscription.close()


def test_a_job_that_ends_before_its_start_is_due_is_mirrored_at_its_end_only(
    client: TestClient, user_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(start_mirror, "RUNNING_SHOWN_AFTER_SECONDS", 60.0)
    job_id = uuid.UUID(submit_tool_job(client, user_headers, "echo", {"message": "hi"})["id"])
    with published_states(job_id) as states:
        run_job_here(job_id)
    assert states == ["succeeded"]
    # The start was committed all the same.
    assert job_row(job_id).started_at is not None
    ended = hot_jobs.load_job(job_id)
    assert ended is not None
    assert ended.state is JobState.succeeded


def test_a_first_progress_report_comes_after_the_start_it_follows(
    client: TestClient, user_headers: dict[str, str], tmp_path: Path
) -> None:
    job_id = uuid.UUID(submit_tool_job(client, user_headers, "echo", {"message": "hi"})["id"])
    with SessionLocal() as session:
        started = start_job(session, job_id, [JobState.queued])
        session.commit()
    assert started is not None
    start = start_mirror.StartMirror(started)
    with ExitStack() as cleanup, SessionLocal() as session:
        runtime = WorkerRuntime(session, job_id, tmp_path / "log.txt", cleanup, start)
        runtime.report_progress(0.25, "a quarter")
        # The watchdog's send, once due, finds the start sent: the tick stays.
        start.send_if_due(start.due)
    shown = hot_jobs.load_job(job_id)
    assert shown is not None
    assert (shown.state, shown.progress, shown.message) == (JobState.running, 0.25, "a quarter")
    assert redis_client().exists(keys.heartbeat(job_id))
    with SessionLocal() as session:
        run.end_terminated_job(session, job_id)
