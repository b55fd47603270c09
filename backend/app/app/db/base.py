"""The metadata with every model imported, for Alembic and for creating tables."""

from app.db.base_class import Base
from app.models import api_key, artifact, file, job, schedule, upload, user

__all__ = ["Base", "api_key", "artifact", "file", "job", "schedule", "upload", "user"]
