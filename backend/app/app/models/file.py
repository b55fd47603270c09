import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base_class import Base, utcnow
from app.models.stored_content import StoredContent


class File(StoredContent, Base):
    """An upload that tool inputs refer to by id; its bytes are in storage under files/<id>."""

    __tablename__ = "file"
    __table_args__ = (Index("ix_file_owner_id_created_at", "owner_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
