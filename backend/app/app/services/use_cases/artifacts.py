"""Use-cases of job artifacts: list them, read one. Visible to whoever may see the job."""

import uuid
from typing import BinaryIO

from sqlalchemy.orm import Session

from app.core.storage import storage
from app.crud import artifact as artifact_crud
from app.schemas.file import ArtifactRead
from app.schemas.user import Principal
from app.services.errors import NotFound
from app.services.storage_keys import artifact_key
from app.services.use_cases.jobs import read_job
from app.tools.context import is_artifact_name


def list_artifacts(session: Session, principal: Principal, job_id: uuid.UUID) -> list[ArtifactRead]:
    read_job(session, principal, job_id)
    return [ArtifactRead.model_validate(a) for a in artifact_crud.list_artifacts(session, job_id)]


def open_artifact(
    session: Session, principal: Principal, job_id: uuid.UUID, name: str
) -> tuple[ArtifactRead, BinaryIO]:
    read_job(session, principal, job_id)
    # A name that is not a plain file name was never stored: never build a path from it.
    artifact = artifact_crud.get_artifact(session, job_id, name) if is_artifact_name(name) else None
    if artifact is None:
        raise NotFound("artifact not found")
    try:
        stream = storage().open(artifact_key(job_id, artifact.name))
    except (FileNotFoundError, ValueError):
        # Its bytes are gone, or a link in storage leads out of it: nothing to serve.
        raise NotFound("artifact not found") from None
    return ArtifactRead.model_validate(artifact), stream
