"""Use-cases of schedules: create, read, list, change, delete, and run one now."""

import uuid

from sqlalchemy.orm import Session

from app.crud import schedule as schedule_crud
from app.db.base_class import utcnow
from app.models.schedule import Schedule
from app.schemas.job import JobOptions, JobRead
from app.schemas.schedule import ScheduleCreate, ScheduleRead, ScheduleUpdate
from app.schemas.user import Principal
from app.services.errors import Conflict, NotFound
from app.services.new_jobs import valid_job_inputs
from app.services.schedule_times import next_run_after
from app.services.use_cases.jobs import submit_job


def create_schedule(session: Session, owner: Principal, new: ScheduleCreate) -> ScheduleRead:
    """Its inputs are checked as a submit's, files included: a mistake is told now, not
    at each run."""
    inputs = valid_job_inputs(session, owner.id, new.tool, new.inputs)
    now = utcnow()
    schedule = Schedule(
        owner_id=owner.id,
        **new.model_dump(exclude={"inputs"}),
        inputs=inputs,
        created_at=now,
        updated_at=now,
    )
    schedule.next_run_at = next_run_after(schedule, now)
    schedule_crud.create_schedule(session, schedule)
    session.commit()
    return ScheduleRead.model_validate(schedule)


def get_schedule(session: Session, principal: Principal, schedule_id: uuid.UUID) -> ScheduleRead:
    return ScheduleRead.model_validate(_owned_schedule(session, principal, schedule_id))


def list_schedules(
    session: Session, principal: Principal, *, offset: int, limit: int
) -> list[ScheduleRead]:
    owner_id = None if principal.is_superuser else principal.id
    found = schedule_crud.list_schedules(session, owner_id=owner_id, offset=offset, limit=limit)
    return [ScheduleRead.model_validate(schedule) for schedule in found]


def update_schedule(
    session: Session, principal: Principal, schedule_id: uuid.UUID, changes: ScheduleUpdate
) -> ScheduleRead:
    schedule = _owned_schedule(session, principal, schedule_id)
    given = changes.model_dump(exclude_unset=True)
    if "inputs" in given:
        # The runs are the schedule's owner's, and so must the files be.
        given["inputs"] = valid_job_inputs(
            session, schedule.owner_id, given["tool"], given["inputs"]
        )
    if given.get("cron") is not None:
        given["interval_seconds"] = None
    if given.get("interval_seconds") is not None:
        given["cron"] = None
    for name, value in given.items():
        setattr(schedule, name, value)
    if schedule.cron is None and schedule.interval_seconds is None:
        raise Conflict("the schedule would have neither `cron` nor `interval_seconds`")
    schedule.next_run_at = next_run_after(schedule, utcnow())
    schedule.updated_at = utcnow()
    session.commit()
    return ScheduleRead.model_validate(schedule)


def delete_schedule(session: Session, principal: Principal, schedule_id: uuid.UUID) -> None:
    schedule_crud.delete_schedule(session, _owned_schedule(session, principal, schedule_id))
    session.commit()


def trigger_schedule(session: Session, principal: Principal, schedule_id: uuid.UUID) -> JobRead:
    """One run now, outside the schedule's slots."""
    schedule = _owned_schedule(session, principal, schedule_id)
    job, _ = submit_job(
        session,
        principal,
        schedule.tool,
        schedule.inputs,
        options=JobOptions(priority=schedule.priority, labels=schedule.labels),
        schedule_id=schedule.id,
    )
    return job


def _owned_schedule(session: Session, principal: Principal, schedule_id: uuid.UUID) -> Schedule:
    schedule = schedule_crud.get_schedule(session, schedule_id)
    if schedule is None or not principal.may_see(schedule.owner_id):
        raise NotFound("schedule not found")
    return schedule
