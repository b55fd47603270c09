"""Starting the runs of due schedules, from beat's frequent tick."""

import logging

from sqlalchemy.orm import Session

from app.crud import job as job_crud
from app.crud import quota as quota_crud
from app.crud import schedule as schedule_crud
from app.db.base_class import utcnow
from app.models.job import Job
from app.models.schedule import Overlap, Schedule
from app.schemas.job import JobOptions, JobRead
from app.services import quotas
from app.services.errors import ServiceError
from app.services.job_lifecycle import send_job
from app.services.new_jobs import new_job
from app.services.schedule_times import next_run_after

logger = logging.getLogger(__name__)

DISPATCH_BATCH = 100


def dispatch_due_schedules(session: Session) -> int:
    """Start the runs of every due schedule; how many jobs were created.

    Each due schedule gets at most one job per call, created in the same transaction
    that advances its next_run_at, and sent after the commit (a send that fails is
    retried by the re-send sweep, so no run is lost). A slot that cannot run - its
    owner's queued jobs are at their limit, or its tool or inputs are no longer valid -
    creates no job and says why on the schedule (`last_skip_reason`).
    """
    created: list[tuple[Job, int]] = []
    now = utcnow()
    for schedule in schedule_crud.claim_due_schedules(session, now=now, limit=DISPATCH_BATCH):
        skip = schedule.overlap is Overlap.skip and schedule_crud.has_unfinished_job(
            session, schedule.id
        )
        if not skip:
            try:
                created.append(_new_run(session, schedule))
            except ServiceError as error:
                logger.warning("schedule %s cannot run: %s", schedule.id, error.detail)
                schedule.last_skipped_at = now
                schedule.last_skip_reason = error.detail
            else:
                schedule.run_count += 1
                schedule.last_run_at = now
        schedule.next_run_at = next_run_after(schedule, now)
    session.commit()
    for snapshot, queued_before in [(JobRead.model_validate(job), n) for job, n in created]:
        try:
            send_job(snapshot, queued_before=queued_before)
        except Exception as error:
            logger.warning("scheduled job %s not sent, beat will resend: %r", snapshot.id, error)
    return len(created)


def _new_run(session: Session, schedule: Schedule) -> tuple[Job, int]:
    """The slot's job, not yet committed, and how many its owner had queued before it."""
    job = new_job(
        session,
        schedule.owner_id,
        schedule.tool,
        schedule.inputs,
        options=JobOptions(priority=schedule.priority, labels=schedule.labels),
        schedule_id=schedule.id,
    )
    override = quota_crud.queued_limit_override(session, schedule.owner_id)
    queued_before = quotas.admit_queued(session, schedule.owner_id, override, 1)
    return job_crud.create_job(session, job), queued_before
