"""Jobs in the fault cases: submitted to the stack's API, counted in PostgreSQL."""

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from app.db.base_class import utcnow
from app.db.session import SessionLocal
from app.models.job import TERMINAL_STATES, Job, JobState

TERMINAL = {state.value for state in TERMINAL_STATES}


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


def unended_jobs(limit: int = 10) -> list[str]:
    """The first jobs not yet terminal, with what their row says of them."""
    now = utcnow()
    with SessionLocal() as session:
        jobs = session.scalars(
            select(Job)
            .where(Job.state.not_in(TERMINAL_STATES))
            .order_by(Job.created_at)
            .limit(limit)
        ).all()

    def ago(moment: datetime | None) -> str:
        return "never" if moment is None else f"{(now - moment).total_seconds():.1f}s ago"

    return [
        f"{job.id} {job.state.value} attempt {job.attempt}, created {ago(job.created_at)}, "
        f"started {ago(job.started_at)}"
        for job in jobs
    ]
