import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from app.api.deps import CurrentPrincipal, CurrentSuperuser, Offset, SessionDep
from app.api.links import USER_LINKS
from app.api.responses import error, not_found
from app.api.routing import ApiRoute
from app.schemas.user import UserCreate, UserRead, UserUpdate
from app.services.use_cases import users as user_service

router = APIRouter(prefix="/users", tags=["users"], route_class=ApiRoute)


@router.get("/me", summary="The calling user", description="Your own account.")
def read_me(session: SessionDep, principal: CurrentPrincipal) -> UserRead:
    return user_service.get_user(session, principal.id)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a user (superuser only)",
    description="A new account; `is_superuser` defaults to false.",
    responses={201: USER_LINKS, 409: error("A user with this email exists.")},
)
def create_user(session: SessionDep, _: CurrentSuperuser, new_user: UserCreate) -> UserRead:
    return user_service.create_user(session, new_user)


@router.get("", summary="List users (superuser only)", description="Oldest first.")
def list_users(
    session: SessionDep,
    _: CurrentSuperuser,
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[UserRead]:
    return user_service.list_users(session, offset=offset, limit=limit)


@router.patch(
    "/{user_id:uuid}",
    summary="Change a user (superuser only)",
    description="Only the fields given change. `max_queued_jobs` and `max_running_jobs` "
    "set this user's quotas: null follows the settings (MAX_QUEUED_JOBS_PER_USER, "
    "MAX_RUNNING_JOBS_PER_USER), 0 is no limit.",
    responses=not_found("No such user."),
)
def update_user(
    session: SessionDep, _: CurrentSuperuser, user_id: uuid.UUID, changes: UserUpdate
) -> UserRead:
    return user_service.update_user(session, user_id, changes)
