"""A worker lost on RabbitMQ as the broker. Its process group SIGKILLed at each moment
of a job: the broker sees the connection close and requeues what it held at once, and
the reaper does the rest, as on Redis. Its machine gone without a word (no FIN: the
worker's connection frozen, then the group killed) before its jobs started: the broker
requeues their messages once the connection missed its heartbeats (`broker_heartbeat`,
half of WORKER_LOST_AFTER_SECONDS)."""

import os
import signal
import time
from pathlib import Path
from typing import Any

from app.core.celery_app import celery_app
from app.models.job import JobState
from tests.support import group_kills
from tests.support.fault_jobs import all_ended, submit
from tests.support.fault_stack import Stack
from tests.support.group_kills import BOUND
from tests.support.jobs import job_row
from tests.support.processes import start_worker
from tests.support.waiting import wait_until


@group_kills.at_each_moment
def test_worker_group_killed_every_job_ends_within_the_bound_once(
    stack: Stack, observe: Any, tmp_path: Path, moment: group_kills.Moment
) -> None:
    group_kills.ends_within_the_bound(stack, observe, tmp_path, moment)


def test_worker_machine_gone_before_start_its_jobs_run_after_missed_heartbeats(
    stack: Stack, observe: Any, tmp_path: Path
) -> None:
    assert celery_app.conf.broker_heartbeat == 2  # from the stack's 4 s window
    api = stack.client()
    stack.stop_worker()
    counted = group_kills.counted_job(api, tmp_path / "counted", 0.2)
    other = submit(api, "sleep", {"seconds": 0.2, "steps": 1})
    proxy = stack.broker_proxy.process.pid
    stack.database_proxy.stall()
    try:
        stack.start_worker("--queues", "default")
        group_kills.pool_holds(stack, {counted, other})
        os.kill(proxy, signal.SIGSTOP)
        stack.kill_worker()
        killed_at = time.monotonic()
        stack.database_proxy.restore()
        group_kills.database_answers_again(api)
        # Another machine: it reaches the broker directly (the frozen path is the dead
        # one's) under a name of its own (the dead one's control queue lives on until
        # the broker gives up on its connection).
        restart = time.monotonic()
        stack.worker = start_worker(env=stack.env, name=f"other-{os.getpid()}")
        restart_took = time.monotonic() - restart
        wait_until(lambda: all_ended(2), timeout=BOUND + restart_took, interval=0.1)
        took = time.monotonic() - killed_at - restart_took
    finally:
        stack.database_proxy.restore()
        os.kill(proxy, signal.SIGCONT)
    for job in (counted, other):
        assert (job_row(job).state, job_row(job).attempt) == (JobState.succeeded, 1)
    assert group_kills.runs(tmp_path / "counted") == 1
    group_kills.submits_answer_again(api)
    api.close()
    observe(
        f"both jobs ended {took:.1f}s after the machine vanished, less a new worker's "
        f"start (bound {BOUND:.1f}s)"
    )
