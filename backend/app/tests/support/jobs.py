"""Jobs made and read directly in PostgreSQL, and the hot state's heartbeats."""

import time
import uuid
from datetime import timedelta

from app.core.storage import storage
from app.crud import artifact as artifact_crud
from app.crud import job as job_crud
from app.crud import user as user_crud
from app.db.base_class import utcnow
from app.db.session import SessionLocal
from app.models.artifact import Artifact
from app.models.job import Job, JobState
from app.services.execution import run
from app.services.storage_keys import artifact_key
from app.worker.redis_db import keys
from app.worker.redis_db.connection import client as redis_client


def ended_job(
    owner_id: uuid.UUID,
    artifacts: dict[str, bytes] | None = None,
    *,
    callback_url: str | None = None,
) -> uuid.UUID:
    """A succeeded echo job of the owner's, with these artifacts (name: content) and a
    callback_url that no submit checked."""
    with SessionLocal() as session:
        job = job_crud.create_job(
            session,
            Job(
                owner_id=owner_id,
                tool="echo",
                tool_version="1.0.0",
                inputs={"message": "hi"},
                state=JobState.succeeded,
                outputs={"message": "hi", "payload": None},
                finished_at=utcnow(),
                callback_url=callback_url,
            ),
        )
        kept = []
        for name, content in (artifacts or {}).items():
            stored = storage().write(artifact_key(job.id, name), [content])
            kept.append(
                Artifact(
                    job_id=job.id,
                    name=name,
                    content_type="text/plain",
                    size=stored.size,
                    sha256=stored.sha256,
                )
            )
        artifact_crud.add_artifacts(session, kept)
        session.commit()
        return job.id


def ended_long_ago(job_id: uuid.UUID) -> None:
    """As if the job had ended a year ago: past any retention."""
    with SessionLocal() as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.state = JobState.succeeded
        job.finished_at = utcnow() - timedelta(days=365)
        session.commit()


def running_job(*, attempt: int, max_attempts: int, started_seconds_ago: float) -> uuid.UUID:
    """A job that a worker took and then, as far as the heartbeat shows, dropped."""
    with SessionLocal() as session:
        owner = user_crud.create_user(
            session, email=f"{uuid.uuid4()}@example.com", hashed_password="not-used"
        )
        job = job_crud.create_job(
            session,
            Job(
                owner_id=owner.id,
                tool="echo",
                tool_version="1.0.0",
                inputs={"message": "again"},
                state=JobState.running,
                attempt=attempt,
                max_attempts=max_attempts,
                started_at=utcnow() - timedelta(seconds=started_seconds_ago),
            ),
        )
        session.commit()
        return job.id


def heartbeats_complete() -> None:
    """As if Redis had held its data for long: missing heartbeats count at once."""
    redis_client().set(keys.HOT_STATE_SINCE, time.time() - 3600)


def job_row(job_id: uuid.UUID) -> Job:
    """The job as PostgreSQL has it."""
    with SessionLocal() as session:
        job = job_crud.get_job(session, job_id)
        assert job is not None
        return job


def run_job_here(job_id: uuid.UUID) -> None:
    """Run one delivery of the job in this process, as a worker would, without Celery."""
    with SessionLocal() as session:
        run.run_job(session, job_id, stop_stuck_tool=lambda: None)
