"""Where each kind of object lives in storage; the only place that builds keys."""

import uuid


def file_key(file_id: uuid.UUID) -> str:
    return f"files/{file_id}"


def job_prefix(job_id: uuid.UUID) -> str:
    return f"jobs/{job_id}"


def artifact_key(job_id: uuid.UUID, name: str) -> str:
    return f"{job_prefix(job_id)}/artifacts/{name}"


def log_key(job_id: uuid.UUID) -> str:
    return f"{job_prefix(job_id)}/log.txt"


def upload_prefix(upload_id: uuid.UUID) -> str:
    return f"uploads/{upload_id}"


def upload_part_key(upload_id: uuid.UUID, part_id: uuid.UUID) -> str:
    return f"{upload_prefix(upload_id)}/{part_id}"
