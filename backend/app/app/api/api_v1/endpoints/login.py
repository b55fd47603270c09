from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from app.api.deps import SessionDep
from app.api.responses import error
from app.api.routing import ApiRoute
from app.core.security import create_access_token
from app.schemas.user import Token
from app.services import rate_limits
from app.services.use_cases import users as user_service

router = APIRouter(tags=["login"], route_class=ApiRoute)


@router.post(
    "/login/access-token",
    summary="Log in",
    description="OAuth2 password flow: exchange an email (as `username`) and password "
    "for a bearer token.",
    responses={
        401: error("Wrong email or password, or an inactive account."),
        429: error(
            "Too many attempts for this account or from this address: "
            "try again after `Retry-After` seconds."
        ),
    },
)
def login_access_token(
    session: SessionDep,
    request: Request,
    response: Response,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> Token:
    # The address the connection came from: behind a proxy, start uvicorn with
    # --forwarded-allow-ips=<the proxy's address> so that this is the client's, not the proxy's.
    rate_limits.count_login(form.username, request.client.host if request.client else "unknown")
    user = user_service.authenticate(session, form.username, form.password)
    if user is None or not user.is_active:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="incorrect email or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    # A token must not be kept by any cache (RFC 6749, section 5.1).
    response.headers["Cache-Control"] = "no-store"
    return Token(access_token=create_access_token(user.id))
