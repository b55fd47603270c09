"""The yardstick: the FastAPI + Celery app a typical user writes first (kept short on purpose).

Sync endpoints; POST inserts one row with SQLAlchemy and calls task.delay();
GET returns AsyncResult(id).state from the Redis result backend.
"""

import os
import uuid

from celery import Celery
from celery.result import AsyncResult
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import Column, String, Table, create_engine, insert
from sqlalchemy.orm import registry

BROKER = os.environ["PEER_BROKER_URL"]
celery = Celery("peer", broker=BROKER, backend=os.environ["PEER_RESULT_URL"])
engine = create_engine(os.environ["PEER_DATABASE_URL"], pool_size=10, max_overflow=20)
metadata = registry().metadata
jobs = Table("peer_job", metadata, Column("id", String(36), primary_key=True), Column("message", String))
metadata.create_all(engine)
app = FastAPI()


@celery.task(name="peer.echo")
def echo(message: str) -> str:
    return message


class JobIn(BaseModel):
    message: str


@app.post("/jobs", status_code=202)
def submit(job: JobIn) -> dict[str, str]:
    job_id = str(uuid.uuid4())
    with engine.begin() as connection:
        connection.execute(insert(jobs).values(id=job_id, message=job.message))
    echo.apply_async(args=[job.message], task_id=job_id)
    return {"id": job_id}


@app.get("/jobs/{job_id}")
def status(job_id: str) -> dict[str, str]:
    return {"id": job_id, "state": AsyncResult(job_id, app=celery).state}
