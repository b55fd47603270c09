import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base_class import Base, utcnow


class ApiKey(Base):
    """A secret that lets a script act as its owner (`X-API-Key`); only its hash is kept."""

    __tablename__ = "api_key"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    # The first characters of the key, so that its owner can tell keys apart.
    prefix: Mapped[str] = mapped_column(String(16))
    # Hex HMAC-SHA256 of the key (app.core.security.hash_api_key); presented keys are
    # looked up by it.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when a request with the key misses the Redis cache, so to within its lifetime.
    last_used_at: Mapped[datetime | None]
