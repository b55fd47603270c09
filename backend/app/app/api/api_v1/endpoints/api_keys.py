import uuid

from fastapi import APIRouter, status

from app.api.deps import CurrentPrincipal, SessionDep
from app.api.links import API_KEY_LINKS
from app.api.responses import error, not_found
from app.api.routing import ApiRoute
from app.schemas.api_key import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from app.services.use_cases import api_keys as api_key_service

router = APIRouter(prefix="/users/me/api-keys", tags=["api keys"], route_class=ApiRoute)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create an API key",
    description="A key for scripts: send it as the `X-API-Key` header wherever a bearer "
    "token works; it acts as you. The answer is the only time the secret (`key`) is "
    "shown: keep it then.",
    responses={201: API_KEY_LINKS},
)
def create_api_key(
    session: SessionDep, principal: CurrentPrincipal, body: ApiKeyCreate
) -> ApiKeyCreated:
    return api_key_service.create_api_key(session, principal, body.name)


@router.get(
    "",
    summary="List your API keys",
    description="Name, prefix and dates of each key, oldest first; never the secret.",
)
def list_api_keys(session: SessionDep, principal: CurrentPrincipal) -> list[ApiKeyRead]:
    return api_key_service.list_api_keys(session, principal)


@router.delete(
    "/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke an API key",
    description="The key stops working at once: the next request with it is a 401.",
    responses={
        **not_found("No such API key, or not yours."),
        503: error("Redis is down: nothing was revoked; try again."),
    },
)
def revoke_api_key(session: SessionDep, principal: CurrentPrincipal, key_id: uuid.UUID) -> None:
    api_key_service.revoke_api_key(session, principal, key_id)
