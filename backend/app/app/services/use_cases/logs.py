"""A job's log: live from Redis while it runs, from storage once it ended."""

import uuid

from sqlalchemy.orm import Session

from app.core.storage import storage
from app.schemas.user import Principal
from app.services.storage_keys import log_key
from app.services.use_cases.jobs import read_job
from app.worker.redis_db import jobs as hot_jobs


def read_log(
    session: Session, principal: Principal, job_id: uuid.UUID, offset: int
) -> tuple[list[str], int]:
    """The lines from `offset` on, and the offset to ask for next."""
    job = read_job(session, principal, job_id)
    if job.state.is_terminal:
        try:
            with storage().open(log_key(job_id)) as stream:
                lines = stream.read().decode(errors="replace").splitlines()[offset:]
        except FileNotFoundError:
            lines = []  # the tool wrote nothing
    else:
        lines = list(hot_jobs.read_log(job_id, offset))
    return lines, offset + len(lines)
