import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.request_body import RequestBody


class ApiKeyCreate(RequestBody):
    name: str = Field(
        min_length=1, max_length=100, description="What the key is for, e.g. the script using it."
    )


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    prefix: str = Field(description="The first characters of the key, to tell keys apart.")
    created_at: datetime
    last_used_at: datetime | None = Field(
        description="When a request last carried the key, to within five minutes; "
        "null when none has."
    )


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(
        description="The secret, to send as the `X-API-Key` header. Shown only in this "
        "answer: tooljobs keeps only a hash of it."
    )
