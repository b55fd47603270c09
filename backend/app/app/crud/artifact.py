import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models.artifact import Artifact


def add_artifacts(session: Session, artifacts: Sequence[Artifact]) -> None:
    session.add_all(artifacts)
    session.flush()


def list_artifacts(session: Session, job_id: uuid.UUID) -> Sequence[Artifact]:
    return session.scalars(
        select(Artifact).where(Artifact.job_id == job_id).order_by(Artifact.name)
    ).all()


def get_artifact(session: Session, job_id: uuid.UUID, name: str) -> Artifact | None:
    return session.scalars(
        select(Artifact).where(Artifact.job_id == job_id, Artifact.name == name)
    ).one_or_none()
