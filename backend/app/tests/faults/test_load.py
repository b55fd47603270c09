"""Load held through worker restarts: 2 000 jobs from 32 concurrent clients while the
worker is restarted twice (a deploy: warm shutdown, then a new worker). Every job ends,
and PostgreSQL holds exactly the jobs the clients were given: none missing, none twice."""

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import select

from app.db.session import SessionLocal
from app.models.job import Job
from tests.support.fault_jobs import all_ended, count_jobs, submit, unended_jobs
from tests.support.fault_stack import Stack
from tests.support.waiting import wait_until

JOBS = 2000
CLIENTS = 32


def test_2000_jobs_from_32_clients_through_two_worker_restarts_all_end_once(
    stack: Stack, observe: Any
) -> None:
    # One user per client: each stays far below the per-principal submit rate limit.
    apis = [stack.client() for _ in range(CLIENTS)]
    submitted: list[uuid.UUID] = []
    lock = threading.Lock()

    def client_submits(index: int) -> None:
        api = apis[index]
        for n in range(index, JOBS, CLIENTS):
            job_id = submit(api, "echo", {"message": f"job {n}"})
            with lock:
                submitted.append(job_id)

    started = time.monotonic()
    restarts: list[float] = []
    with ThreadPoolExecutor(CLIENTS) as pool:
        clients = [pool.submit(client_submits, index) for index in range(CLIENTS)]
        for share in (1 / 4, 1 / 2):
            wait_until(lambda share=share: len(submitted) >= JOBS * share, timeout=60)
            stack.stop_worker()
            stack.start_worker()
            restarts.append(time.monotonic() - started)
        for finished in clients:
            finished.result()
    submitted_after = time.monotonic() - started
    try:
        counts = wait_until(lambda: all_ended(JOBS), timeout=120, interval=0.5)
    except AssertionError:
        # What the stuck jobs' rows and the broker say tells where they were lost.
        raise AssertionError(
            f"not every job ended within 120 s: {count_jobs()}; first unended: "
            f"{unended_jobs()}; the broker holds {stack.broker_holds()}"
        ) from None
    ended_after = time.monotonic() - started
    for api in apis:
        api.close()

    assert len(submitted) == len(set(submitted)) == JOBS
    with SessionLocal() as session:
        recorded = session.scalars(select(Job.id)).all()
    assert sorted(recorded) == sorted(submitted)
    assert counts == {"succeeded": JOBS}, counts
    observe(
        f"{JOBS} submitted by {CLIENTS} clients in {submitted_after:.1f}s, worker "
        f"restarted at {restarts[0]:.1f}s and {restarts[1]:.1f}s; {counts}, "
        f"{len(recorded)} rows, all ended at {ended_after:.1f}s"
    )
