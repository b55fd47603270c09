"""Jobs in the fault cases: submitted to the stack's API, counted in PostgreSQL."""

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from app.db.base_class import utcnow
from app.db.session import SessionLocal
from app.models.job import Job, JobState

TERMINAL = {"succeeded", "failed", "cancelled"}


def submit(api: httpx.Client, tool: str, inputs: dict[str, Any]) -> uuid.UUID:
    response = api.post(f"/tools/{tool}/jobs", json={"inputs": inputs})
    assert response.status_code == 202, response.text
    return uuid.UUID(response.json()["id"])


def both_running_for_a_while(jobs: set[uuid.UUID], seconds: float = 0.3) -> bool:
    """Both slots hold these jobs, well into their run: a kill now hits them and only them."""
    with SessionLocal() as session:
        started = session.scalars(
            select(Job.id).where(
                Job.state == JobState.running,
                Job.started_at < utcnow() - timedelta(seconds=seconds),
            )
        ).all()
    return set(started) == jobs


def count_jobs() -> dict[str, int]:
    """Jobs by state as PostgreSQL has them, failures also by error type
    (`failed:worker_lost`)."""
    with SessionLocal() as session:
        rows = session.execute(
            select(Job.state, Job.error["type"].as_string(), func.count()).group_by(
                Job.state, Job.error["type"].as_string()
            )
        ).all()
    counts: dict[str, int] = {}
    for state, error_type, number in rows:
        counts[state.value] = counts.get(state.value, 0) + number
        if state is JobState.failed:
            counts[f"failed:{error_type}"] = number
    return counts


def all_ended(expected: int) -> dict[str, int] | None:
    """The counts once `expected` jobs exist and every one is terminal."""
    counts = count_jobs()
    ended = sum(counts.get(state, 0) for state in TERMINAL)
    return counts if ended == expected == sum(counts.get(s.value, 0) for s in JobState) else None
