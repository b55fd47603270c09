from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column


class StoredContent:
    """The columns of anything whose bytes are in storage: uploads and artifacts."""

    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    # Bytes: past 2 GiB for large uploads, so 64-bit.
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
