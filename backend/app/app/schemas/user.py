import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field


class UserCreate(BaseModel):
    email: EmailStr
    password: str = Field(min_length=8, max_length=128)
    is_superuser: bool = False


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: EmailStr
    is_active: bool
    is_superuser: bool
    created_at: datetime


class Principal(BaseModel):
    """Who is calling: the part of a user that authorisation needs, cached in Redis."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    is_active: bool
    is_superuser: bool

    def may_see(self, owner_id: uuid.UUID) -> bool:
        """Whether what `owner_id` owns exists for this principal (else it reads as unknown)."""
        return self.is_superuser or self.id == owner_id


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
