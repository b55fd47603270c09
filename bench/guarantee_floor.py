"""The guarantees' floor: bare Celery (tooljobs' delivery settings) whose task does only
what tooljobs' guarantees need of a job's run, each the cheapest way there is.

Start: one autocommit UPDATE ... RETURNING (queued -> running, attempt + 1) on a held
psycopg2 connection. Its mirror (the row, the first heartbeat, the announcement) waits
as tooljobs' does (app/services/execution/start_mirror.py) and is never due for a job
that ends at once. End: the same UPDATE for running -> succeeded, then one Redis script
that mirrors the row, clears the heart and publishes. No SQLAlchemy, no pydantic, no
job folder, no log context, no tool: what is left of tooljobs' worker cost above this
floor is its own; what the floor costs above bare Celery is the price of committing
each transition and mirroring the end (a job that survives a lost worker, Redis or
database).
"""

import json
import os
from typing import Any

import psycopg2
import redis
from celery import Celery

celery = Celery("floor", broker=os.environ["FLOOR_BROKER_URL"])
celery.conf.update(task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
                   task_ignore_result=True)

MIRROR = """
local stored = redis.call('HMGET', KEYS[1], 'version')
if stored[1] and tonumber(stored[1]) > tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'snapshot', ARGV[1], 'version', ARGV[2], 'state', ARGV[3])
redis.call('EXPIRE', KEYS[1], 3600)
if ARGV[3] == 'running' then redis.call('SET', KEYS[3], ARGV[2], 'EX', 60)
else redis.call('DEL', KEYS[3]) end
redis.call('PUBLISH', KEYS[2], ARGV[1])
return 1
"""
COLUMNS = ("id, owner_id, tool, tool_version, inputs, state, progress, message, outputs, error, priority,"
           " attempt, max_attempts, labels, created_at, started_at, finished_at, updated_at")
START = (f"UPDATE job SET state = 'running', attempt = attempt + 1, started_at = now(), updated_at = now(),"
         f" progress = 0, message = NULL WHERE id = %s AND state = 'queued' RETURNING {COLUMNS}")
END = (f"UPDATE job SET state = 'succeeded', outputs = %s, progress = 1, finished_at = now(),"
       f" updated_at = now() WHERE id = %s AND state = 'running' RETURNING {COLUMNS}")

_held: dict[str, Any] = {}


def _connections() -> tuple[Any, Any]:
    """This pool process's own PostgreSQL connection and mirror script."""
    if not _held:
        database = psycopg2.connect(os.environ["FLOOR_DATABASE_DSN"])
        database.autocommit = True
        _held["database"] = database
        _held["mirror"] = redis.Redis.from_url(os.environ["FLOOR_REDIS_URL"]).register_script(MIRROR)
    return _held["database"], _held["mirror"]


def _mirror(script: Any, names: list[str], row: tuple[Any, ...]) -> None:
    job = dict(zip(names, row, strict=True))
    job_id = job["id"]
    script(keys=[f"job:{job_id}", f"job:{job_id}:events", f"job:{job_id}:heartbeat"],
           args=[json.dumps(job, default=str), job["updated_at"].timestamp(), job["state"]])


@celery.task(name="floor.run_job")
def run_job(job_id: str) -> None:
    database, mirror = _connections()
    with database.cursor() as cursor:
        cursor.execute(START, (job_id,))
        if cursor.fetchone() is None:
            return
        cursor.execute(END, (json.dumps({"message": "hi"}), job_id))
        ended = cursor.fetchone()
        if ended is not None:
            _mirror(mirror, [column.name for column in cursor.description], ended)
