from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm

from app.api.deps import SessionDep
from app.core.security import create_access_token
from app.schemas.user import Token
from app.services import users as user_service

router = APIRouter(tags=["login"])


@router.post(
    "/login/access-token",
    summary="Log in",
    description="OAuth2 password flow: exchange an email (as `username`) and password "
    "for a bearer token.",
    responses={401: {"description": "Wrong email or password, or an inactive account."}},
)
def login_access_token(
    session: SessionDep, form: Annotated[OAuth2PasswordRequestForm, Depends()]
) -> Token:
    user = user_service.authenticate(session, form.username, form.password)
    if user is None or not user.is_active:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="incorrect email or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Token(access_token=create_access_token(user.id))
