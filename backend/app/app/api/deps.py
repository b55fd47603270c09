"""Dependencies shared by the routers: a database session and who is calling."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Query, status
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from app.core import log_context
from app.core.config import settings
from app.core.security import user_id_from_token
from app.db.session import SessionLocal, StatementSessionLocal
from app.schemas.user import Principal
from app.services.use_cases import api_keys as api_key_service
from app.services.use_cases import users as user_service

# auto_error=False: a missing token is our 401 with our message, like a bad one.
oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl=f"{settings.API_V1_STR}/login/access-token", auto_error=False
)
# For scripts: a key made at /users/me/api-keys, accepted wherever a token is.
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False)


async def get_session() -> AsyncIterator[Session]:
    async for session in _session_of(SessionLocal):
        yield session


async def get_statement_session() -> AsyncIterator[Session]:
    async for session in _session_of(StatementSessionLocal):
        yield session


async def _session_of(factory: sessionmaker[Session]) -> AsyncIterator[Session]:
    # A session connects only when first used, so a request that needs no SQL opens none
    # and, async, costs no thread; closing one that did connect talks to the database,
    # so that close runs in a thread.
    session = factory()
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


SessionDep = Annotated[Session, Depends(get_session)]
# For a use-case whose statements each stand alone (a single submit: one INSERT): each
# commits as it runs, one round trip instead of three.
StatementSessionDep = Annotated[Session, Depends(get_statement_session)]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": "Bearer"},
    )


async def get_current_principal(
    token: Annotated[str | None, Depends(oauth2_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> Principal:
    if token is not None:
        user_id = user_id_from_token(token)
        invalid = "invalid or expired token"
    elif api_key is not None:
        # Checked against Redis or the database on every request, so a revoked key
        # fails at once in every process.
        user_id = await run_in_threadpool(api_key_service.owner_of_api_key, SessionLocal, api_key)
        invalid = "invalid API key"
    else:
        raise _unauthorized("not authenticated")
    # Given the session factory, not a session: a caller known to this process or to
    # Redis costs no session at all (most polls).
    principal = None if user_id is None else await user_service.principal(SessionLocal, user_id)
    if principal is None or not principal.is_active:
        raise _unauthorized(invalid)
    log_context.bind_user(principal.id)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_current_principal)]


def get_current_superuser(principal: CurrentPrincipal) -> Principal:
    if not principal.is_superuser:
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail="superuser only")
    return principal


CurrentSuperuser = Annotated[Principal, Depends(get_current_superuser)]

# Bounded, so that no offset overflows a database integer.
Offset = Annotated[int, Query(ge=0, le=1_000_000_000)]
