import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from app.schemas.request_body import JSON_INTEGER, JsonBool, RequestBody

# A per-user quota: null follows the setting, 0 is no limit. Bounded by what the column holds.
QuotaOverride = Annotated[int, Field(ge=0, le=2**31 - 1), JSON_INTEGER] | None


class UserCreate(RequestBody):
    email: EmailStr
    password: str = Field(min_length=8, max_length=128)
    is_superuser: JsonBool = False


class UserUpdate(RequestBody):
    """What a superuser may change of a user; only the fields given change."""

    max_queued_jobs: QuotaOverride = Field(
        default=None,
        description="Queued jobs this user may have: null follows MAX_QUEUED_JOBS_PER_USER, "
        "0 is no limit.",
    )
    max_running_jobs: QuotaOverride = Field(
        default=None,
        description="Jobs of this user that may run at once: null follows "
        "MAX_RUNNING_JOBS_PER_USER, 0 is no limit.",
    )


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: EmailStr
    is_active: bool
    is_superuser: bool
    created_at: datetime
    max_queued_jobs: int | None
    max_running_jobs: int | None


class Principal(BaseModel):
    """Who is calling: the part of a user that authorisation and quotas need, cached in
    Redis."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    is_active: bool
    is_superuser: bool
    max_queued_jobs: int | None = None

    def may_see(self, owner_id: uuid.UUID) -> bool:
        """Whether what `owner_id` owns exists for this principal (else it reads as unknown)."""
        return self.is_superuser or self.id == owner_id


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
