import uuid
from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base_class import Base, utcnow


class User(Base):
    __tablename__ = "user"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    hashed_password: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    is_superuser: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A superuser's override of MAX_QUEUED_JOBS_PER_USER and MAX_RUNNING_JOBS_PER_USER
    # for this user: None follows the setting, 0 is no limit.
    max_queued_jobs: Mapped[int | None]
    max_running_jobs: Mapped[int | None]
