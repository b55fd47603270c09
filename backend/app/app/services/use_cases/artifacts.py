"""Use-cases of job artifacts: list them, read one. Visible to whoever may see the job."""

import uuid

from sqlalchemy.orm import Session

from app.crud import artifact as artifact_crud
from app.schemas.file import ArtifactRead
from app.schemas.user import Principal
from app.services import downloads
from app.services.errors import NotFound
from app.services.storage_keys import artifact_key
from app.services.use_cases.jobs import read_job
from app.tools.context import is_artifact_name


def list_artifacts(session: Session, principal: Principal, job_id: uuid.UUID) -> list[ArtifactRead]:
    read_job(session, principal, job_id)
    return [ArtifactRead.model_validate(a) for a in artifact_crud.list_artifacts(session, job_id)]


def download_artifact(
    session: Session, principal: Principal, job_id: uuid.UUID, name: str
) -> downloads.Download:
    read_job(session, principal, job_id)
    # A name that is not a plain file name was never stored: never build a path from it.
    artifact = artifact_crud.get_artifact(session, job_id, name) if is_artifact_name(name) else None
    if artifact is None:
        raise NotFound("artifact not found")
    return downloads.download(
        artifact_key(job_id, artifact.name),
        name=artifact.name,
        content_type=artifact.content_type,
        size=artifact.size,
        missing="artifact not found",
    )
