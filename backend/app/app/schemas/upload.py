import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class UploadRead(BaseModel):
    """A resumable upload: how far it got, and the file it became once complete."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str = Field(description="The `filename` of Upload-Metadata, made plain.")
    content_type: str = Field(description="The `filetype` of Upload-Metadata, when a media type.")
    length: int = Field(description="Upload-Length: the bytes the upload will have.")
    offset: int = Field(description="Upload-Offset: the bytes received so far.")
    metadata_header: str | None = Field(
        description="Upload-Metadata as the client sent it at creation."
    )
    file_id: uuid.UUID | None = Field(
        description="The file the upload became once its last byte arrived (GET /files/{id})."
    )
    created_at: datetime
    updated_at: datetime
