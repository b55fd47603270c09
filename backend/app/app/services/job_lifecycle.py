"""How a job moves between states, for every caller (the API, the worker, beat).

Each transition is committed to PostgreSQL first, then mirrored to Redis (the snapshot
every poll reads) and announced on the job's channel; an end also queues the job's
webhook. Every function takes the caller's session and commits its own transition.
"""

import dataclasses
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from kombu import Producer
from sqlalchemy.orm import Session

from app.core.celery_app import broker_priority, celery_app
from app.core.storage import storage
from app.crud import artifact as artifact_crud
from app.crud import job as job_crud
from app.db.base_class import utcnow
from app.models.artifact import Artifact
from app.models.job import ErrorType, Job, JobError, JobState
from app.schemas.job import JobRead
from app.services import process_cache, webhooks
from app.services.errors import Unavailable
from app.services.fair_share import fair_priority
from app.services.storage_keys import job_prefix
from app.tools.context import ArtifactInfo
from app.tools.registry import get_tool
from app.worker.redis_db import jobs as hot_jobs
from app.worker.task_routes import TaskName

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Succeeded:
    outputs: dict[str, object]


@dataclass(frozen=True)
class Failed:
    error: JobError


@dataclass(frozen=True)
class Cancelled:
    pass


# How a job can end.
Ending = Succeeded | Failed | Cancelled

# Marks, in a broker connection's cache of declarations, a queue declared through it.
_DECLARED_QUEUE = "tooljobs-queue"

WORKER_LOST = Failed(
    JobError(type=ErrorType.worker_lost, message="the worker running this job stopped")
)


def send_job(job: JobRead, *, countdown: float | None = None, queued_before: int = 0) -> None:
    """Hand the job's run to the broker, on its tool's queue, with its priority lowered
    by its owner's backlog: `queued_before`, the jobs they had queued (fair_share)."""
    with celery_app.producer_or_acquire() as producer:
        _send(job, producer, countdown, queued_before)
    # After the send, so that the snapshot can say the broker has the task.
    hot_jobs.save_job(job, sent=True)


def send_new_jobs(
    session: Session, jobs: Sequence[Job], *, queued_before: Sequence[int]
) -> list[JobRead]:
    """send_job for jobs just committed together, each with its owner's backlog before
    it; their snapshots. Their messages go to the broker together (one round trip on
    Redis: kombu's publish batch), and are mirrored in one more.

    All or none: when the broker does not take them, their rows are deleted (no row is
    kept that a worker will never run) and Unavailable says so. A message of a publish
    flush that went through then finds no job."""
    snapshots = [JobRead.model_validate(job) for job in jobs]
    try:
        # One operation per message on our queues (no message TTL): one flush at the end.
        with (
            celery_app.producer_or_acquire() as producer,
            producer.batch(max_size=len(snapshots) or 1),
        ):
            for snapshot, backlog in zip(snapshots, queued_before, strict=True):
                _send(snapshot, producer, None, backlog)
        hot_jobs.save_new_jobs(snapshots)
    except Exception as error:
        logger.warning("could not send %d new jobs to the broker: %r", len(jobs), error)
        job_crud.delete_jobs(session, [job.id for job in jobs])
        session.commit()
        raise Unavailable("the job queue is down; nothing was submitted, try again") from None
    return snapshots


def offer_again(job: JobRead, *, countdown: float, queued_before: int) -> None:
    """Send a queued job's run again `countdown` seconds from now, without a mirror:
    its snapshot already says that the broker has it."""
    with celery_app.producer_or_acquire() as producer:
        _send(job, producer, countdown, queued_before)


def _send(job: JobRead, producer: Producer, countdown: float | None, queued_before: int) -> None:
    tool = get_tool(job.tool)
    args = [str(job.id)]
    # The owner lets the worker apply their running limit without asking the database.
    kwargs = {"owner_id": str(job.owner_id)}
    # The queue must exist before a message goes to it (RabbitMQ drops it otherwise):
    # declared once per broker connection. kombu caches its declarations per connection
    # too, but finds one in its cache only after binding a copy of the queue at every
    # send; the queue's name goes in the same cache, which kombu empties when the
    # connection is made again.
    declared = _declarations(producer)
    queue_declared = (_DECLARED_QUEUE, tool.queue)
    celery_app.send_task(
        TaskName.RUN_JOB,
        args=args,
        kwargs=kwargs,
        # Plain strings: repr() says what Celery's saferepr would, at a tenth of its cost.
        argsrepr=repr(args),
        kwargsrepr=repr(kwargs),
        declare=[] if queue_declared in declared else None,
        task_id=str(job.id),
        queue=tool.queue,
        priority=broker_priority(fair_priority(job.priority, queued_before)),
        countdown=countdown,
        soft_time_limit=tool.time_limit_seconds,
        # The hard limit is a backstop for a tool that ignores the soft one.
        time_limit=None if tool.time_limit_seconds is None else tool.time_limit_seconds + 30,
        producer=producer,
    )
    declared.add(queue_declared)


def _declarations(producer: Producer) -> set[object]:
    connection = producer.connection
    # A producer of the pool has a connection, made when first used.
    assert connection is not None
    assert connection.declared_entities is not None
    return connection.declared_entities


def mirror_job(job: JobRead, *, publish: bool = True, start_heartbeat: bool = False) -> None:
    """Copy a committed transition to Redis and (unless `publish` is False) tell the
    job's subscribers; a reader re-filling Redis from PostgreSQL publishes nothing.
    `start_heartbeat`: the worker that took the job beats its heart, in the same trip."""
    hot_jobs.save_job(job, publish=publish, start_heartbeat=start_heartbeat)


def start_job(
    session: Session, job_id: uuid.UUID, from_states: Sequence[JobState]
) -> JobRead | None:
    """-> running with attempt + 1, not yet committed; None when it was in none of
    `from_states`."""
    started = job_crud.start_job(session, job_id, from_states, utcnow())
    if started is None:
        return None
    if webhooks.wants_delivery(started):
        webhooks.schedule_delivery(job_id, JobState.running)
    return JobRead.model_validate(started)


def end_job(
    session: Session,
    job_id: uuid.UUID,
    ending: Ending,
    *,
    progress: float | None = None,
    message: str | None = None,
    artifacts: Sequence[ArtifactInfo] = (),
) -> JobRead | None:
    """running -> its end, with the last progress report and the artifacts, in one
    commit; mirrored, and announced to the job's webhook. None when it was not running."""
    changes = _changes_of(ending)
    changes["finished_at"] = changes["updated_at"] = utcnow()
    if progress is not None:
        changes["progress"] = progress
        changes["message"] = message
    ended = job_crud.transition_job(session, job_id, [JobState.running], **changes)
    if ended is not None and artifacts:
        artifact_crud.add_artifacts(
            session, [Artifact(job_id=job_id, **dataclasses.asdict(a)) for a in artifacts]
        )
    session.commit()
    if ended is None:
        return None
    snapshot = JobRead.model_validate(ended)
    mirror_job(snapshot)
    if webhooks.wants_delivery(ended):
        webhooks.schedule_delivery(snapshot.id, snapshot.state)
    return snapshot


def _changes_of(ending: Ending) -> job_crud.JobChanges:
    match ending:
        case Succeeded(outputs):
            return {"state": JobState.succeeded, "outputs": outputs}
        case Failed(error):
            return {"state": JobState.failed, "error": error}
        case Cancelled():
            return {"state": JobState.cancelled}


def requeue_job(
    session: Session,
    job_id: uuid.UUID,
    *,
    message: str | None = None,
    countdown: float | None = None,
) -> JobRead | None:
    """running -> queued (for another attempt), committed, then sent again after
    `countdown` seconds; None when it was not running."""
    changes: job_crud.JobChanges = {"state": JobState.queued, "updated_at": utcnow()}
    if message is not None:
        changes["message"] = message
    requeued = job_crud.transition_job(session, job_id, [JobState.running], **changes)
    session.commit()
    if requeued is None:
        return None
    snapshot = JobRead.model_validate(requeued)
    send_job(snapshot, countdown=countdown)
    return snapshot


def forget_job(job_id: uuid.UUID) -> None:
    """After its row is gone: its hot state, every API process's copy, and its files."""
    hot_jobs.forget_job(job_id)
    process_cache.forget("job", job_id)
    storage().delete(job_prefix(job_id))
