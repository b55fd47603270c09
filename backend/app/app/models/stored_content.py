from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column


class StoredContent:
    """The columns of anything whose bytes are in storage: uploads and artifacts."""

    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
