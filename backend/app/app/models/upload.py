import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base_class import Base, utcnow

# Room for a file name and a media type, base64 encoded, and a few keys of the client's.
MAX_METADATA_LENGTH = 4096


class Upload(Base):
    """A resumable (tus) upload: how many bytes are promised and how many have arrived.
    The bytes are in storage, one part object per PATCH (`UploadPart`), until the last
    byte arrives and the parts become one File."""

    __tablename__ = "upload"
    __table_args__ = (Index("ix_upload_updated_at", "updated_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    length: Mapped[int] = mapped_column(BigInteger)
    offset: Mapped[int] = mapped_column(BigInteger, default=0)
    # The Upload-Metadata header as the client sent it: HEAD answers it back unchanged.
    metadata_header: Mapped[str | None] = mapped_column(String(MAX_METADATA_LENGTH))
    # Its `filename` and `filetype`, made plain: the File's name and content type.
    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    # The File the parts became; deleting that file deletes this finished upload with it.
    file_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("file.id", ondelete="CASCADE"), unique=True
    )
    # The part a PATCH is receiving now: a HEAD or another PATCH waits for it to end.
    receiving_part_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The last byte received: retention forgets uploads left alone long enough.
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class UploadPart(Base):
    """The bytes one PATCH stored, at storage key uploads/<upload id>/<part id>."""

    __tablename__ = "upload_part"
    # One part per offset: of two PATCHes racing at one offset, one records its part.
    __table_args__ = (UniqueConstraint("upload_id", "offset"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    upload_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("upload.id", ondelete="CASCADE"))
    offset: Mapped[int] = mapped_column(BigInteger)
    size: Mapped[int] = mapped_column(BigInteger)
