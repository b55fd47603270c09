import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.api.deps import CurrentPrincipal, Offset, SessionDep
from app.api.links import JOB_LINKS, SCHEDULE_LINKS
from app.api.responses import Responses, error, not_found
from app.api.routing import ApiRoute
from app.api.submissions import UNKNOWN_FILE, accepted
from app.schemas.job import JobRead
from app.schemas.schedule import ScheduleCreate, ScheduleRead, ScheduleUpdate
from app.services.use_cases import schedules as schedule_service

router = APIRouter(prefix="/schedules", tags=["schedules"], route_class=ApiRoute)

NOT_FOUND = not_found("No such schedule, or not yours.")
INVALID: Responses = {422: {"description": "Unknown tool, or inputs, cron or time zone invalid."}}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a schedule",
    description="Run `tool` with `inputs` on a 5-field `cron` (in `timezone`) or every "
    "`interval_seconds`, between `start_at` and `end_at`. After downtime a schedule runs "
    "once for the slots it missed.",
    responses={201: SCHEDULE_LINKS, 404: UNKNOWN_FILE, **INVALID},
)
def create_schedule(
    session: SessionDep, principal: CurrentPrincipal, body: ScheduleCreate
) -> ScheduleRead:
    return schedule_service.create_schedule(session, principal, body)


@router.get("", summary="List schedules", description="Yours (all for a superuser), oldest first.")
def list_schedules(
    session: SessionDep,
    principal: CurrentPrincipal,
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ScheduleRead]:
    return schedule_service.list_schedules(session, principal, offset=offset, limit=limit)


@router.get(
    "/{schedule_id}",
    summary="Get a schedule",
    description="With its next and last run and how many runs it started.",
    responses=NOT_FOUND,
)
def read_schedule(
    session: SessionDep, principal: CurrentPrincipal, schedule_id: uuid.UUID
) -> ScheduleRead:
    return schedule_service.get_schedule(session, principal, schedule_id)


@router.patch(
    "/{schedule_id}",
    summary="Change a schedule",
    description="Only the fields given change; the next run is computed again. `tool` "
    "and `inputs` change together.",
    responses={
        404: error("No such schedule, or not yours; or an input names a file that is not."),
        409: error("The change leaves the schedule neither `cron` nor `interval_seconds`."),
        **INVALID,
    },
)
def update_schedule(
    session: SessionDep, principal: CurrentPrincipal, schedule_id: uuid.UUID, body: ScheduleUpdate
) -> ScheduleRead:
    return schedule_service.update_schedule(session, principal, schedule_id, body)


@router.delete(
    "/{schedule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a schedule",
    description="Its jobs stay, with `schedule_id` cleared.",
    responses=NOT_FOUND,
)
def delete_schedule(
    session: SessionDep, principal: CurrentPrincipal, schedule_id: uuid.UUID
) -> None:
    schedule_service.delete_schedule(session, principal, schedule_id)


@router.post(
    "/{schedule_id}/trigger",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Run a schedule now",
    description="One job now, with the schedule's tool and inputs, outside its slots. "
    "Counts as a submit against the rate limit.",
    response_model=JobRead,
    responses={
        202: JOB_LINKS,
        **NOT_FOUND,
        429: error("Too many submissions: see `Retry-After`."),
    },
)
def trigger_schedule(
    session: SessionDep, principal: CurrentPrincipal, schedule_id: uuid.UUID
) -> Response:
    job = schedule_service.trigger_schedule(session, principal, schedule_id)
    return accepted(job, created=True)
