"""Use-cases of schedules: manage them over REST, and dispatch the due ones from beat."""

import logging
import uuid
from collections.abc import Sequence

from sqlalchemy.orm import Session

from app.crud import job as job_crud
from app.crud import schedule as schedule_crud
from app.db.base_class import utcnow
from app.db.session import SessionLocal
from app.models.job import Job
from app.models.schedule import Overlap, Schedule
from app.schemas.job import JobOptions, JobRead
from app.schemas.schedule import ScheduleCreate, ScheduleUpdate
from app.schemas.user import Principal
from app.services.errors import InvalidInput, NotFound, ServiceError
from app.services.jobs import (
    new_job,
    send_job,
    submit_job,
    tool_or_invalid,
    valid_inputs_or_invalid,
)
from app.services.schedule_times import next_run_after

logger = logging.getLogger(__name__)

DISPATCH_BATCH = 100


def create_schedule(session: Session, owner: Principal, new: ScheduleCreate) -> Schedule:
    tool = tool_or_invalid(new.tool)
    inputs = valid_inputs_or_invalid(tool, new.inputs).model_dump(mode="json")
    now = utcnow()
    schedule = Schedule(
        owner_id=owner.id,
        **new.model_dump(exclude={"inputs"}),
        inputs=inputs,
        created_at=now,
        updated_at=now,
    )
    _check_window(schedule)
    schedule.next_run_at = next_run_after(schedule, now)
    schedule_crud.create_schedule(session, schedule)
    session.commit()
    return schedule


def get_schedule(session: Session, principal: Principal, schedule_id: uuid.UUID) -> Schedule:
    schedule = schedule_crud.get_schedule(session, schedule_id)
    if schedule is None or not (principal.is_superuser or schedule.owner_id == principal.id):
        raise NotFound("schedule not found")
    return schedule


def list_schedules(
    session: Session, principal: Principal, *, offset: int, limit: int
) -> Sequence[Schedule]:
    owner_id = None if principal.is_superuser else principal.id
    return schedule_crud.list_schedules(session, owner_id=owner_id, offset=offset, limit=limit)


def update_schedule(
    session: Session, principal: Principal, schedule_id: uuid.UUID, changes: ScheduleUpdate
) -> Schedule:
    schedule = get_schedule(session, principal, schedule_id)
    given = changes.model_dump(exclude_unset=True)
    if "inputs" in given:
        tool = tool_or_invalid(schedule.tool)
        given["inputs"] = valid_inputs_or_invalid(tool, given["inputs"]).model_dump(mode="json")
    if given.get("cron") is not None:
        given["interval_seconds"] = None
    if given.get("interval_seconds") is not None:
        given["cron"] = None
    for name, value in given.items():
        setattr(schedule, name, value)
    if schedule.cron is None and schedule.interval_seconds is None:
        raise InvalidInput.at(["body"], "give `cron` or `interval_seconds`", "missing_timing")
    _check_window(schedule)
    schedule.next_run_at = next_run_after(schedule, utcnow())
    schedule.updated_at = utcnow()
    session.commit()
    return schedule


def delete_schedule(session: Session, principal: Principal, schedule_id: uuid.UUID) -> None:
    schedule_crud.delete_schedule(session, get_schedule(session, principal, schedule_id))
    session.commit()


def trigger_schedule(session: Session, principal: Principal, schedule_id: uuid.UUID) -> JobRead:
    """One run now, outside the schedule's slots."""
    schedule = get_schedule(session, principal, schedule_id)
    job, _ = submit_job(
        session,
        principal,
        schedule.tool,
        schedule.inputs,
        options=JobOptions(priority=schedule.priority, labels=schedule.labels),
        schedule_id=schedule.id,
    )
    return job


def dispatch_due_schedules() -> int:
    """Start the runs of every due schedule; how many jobs were created.

    Each due schedule gets at most one job per call, created in the same transaction
    that advances its next_run_at, and sent after the commit (a send that fails is
    retried by the re-send sweep, so no run is lost).
    """
    created = []
    with SessionLocal() as session:
        now = utcnow()
        for schedule in schedule_crud.claim_due_schedules(session, now=now, limit=DISPATCH_BATCH):
            skip = schedule.overlap is Overlap.skip and schedule_crud.has_unfinished_job(
                session, schedule.id
            )
            if not skip:
                try:
                    created.append(_new_run(session, schedule))
                except ServiceError as error:
                    # The tool or its inputs changed since: this slot cannot run.
                    logger.warning("schedule %s cannot run: %s", schedule.id, error.detail)
                else:
                    schedule.run_count += 1
                    schedule.last_run_at = now
            schedule.next_run_at = next_run_after(schedule, now)
        session.commit()
        snapshots = [JobRead.model_validate(job) for job in created]
    for snapshot in snapshots:
        try:
            send_job(snapshot)
        except Exception as error:
            logger.warning("scheduled job %s not sent, beat will resend: %r", snapshot.id, error)
    return len(snapshots)


def _new_run(session: Session, schedule: Schedule) -> Job:
    job = new_job(
        session,
        schedule.owner_id,
        schedule.tool,
        schedule.inputs,
        options=JobOptions(priority=schedule.priority, labels=schedule.labels),
        schedule_id=schedule.id,
    )
    return job_crud.create_job(session, job)


def _check_window(schedule: Schedule) -> None:
    if schedule.start_at and schedule.end_at and schedule.end_at <= schedule.start_at:
        raise InvalidInput.at(["body", "end_at"], "must be after start_at", "invalid_window")
