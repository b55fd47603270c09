"""The broker out of reach at submit, refusing connections or accepting them and never
answering: the submit is a 503 within seconds and leaves no job behind. The submit
service deletes the row it committed when the send fails; a row whose delete failed too
(or whose API process died between commit and send) carries no `sent` mark, so beat's
re-send sweep sends it once the broker is back (case 2 and test_job_requests show that).
A job that was running when the broker went away ends all the same, and the worker that
ran it lives on (app/worker/broker_transport.py) and takes the next job.
"""

import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.support.fault_jobs import all_ended, count_jobs, submit
from tests.support.fault_stack import Stack
from tests.support.waiting import wait_until

# Three tries of 3 s (socket timeout and publish retries in celery_app) and their
# pauses, plus a margin for a loaded machine.
SUBMIT_BOUND_SECONDS = 20
# Still running when the broker goes, ending while it is away.
RUNNING = {"seconds": 2, "steps": 4}


def refused_submit(api: httpx.Client) -> float:
    started = time.monotonic()
    response = api.post("/tools/echo/jobs", json={"inputs": {"message": "lost?"}})
    took = time.monotonic() - started
    assert response.status_code == 503, response.text
    assert "nothing was submitted" in response.json()["detail"]
    assert took < SUBMIT_BOUND_SECONDS
    return took


def check_broker_fault(stack: Stack, fault: Callable[[], None]) -> tuple[float, float]:
    api = stack.client()
    worker = stack.worker
    submit(api, "sleep", RUNNING)
    wait_until(lambda: count_jobs() == {"running": 1}, timeout=20)
    fault()
    try:
        first = refused_submit(api)
        # Once more: the first failure must not leave the API stuck on a dead connection.
        second = refused_submit(api)
        assert count_jobs() in ({"running": 1}, {"succeeded": 1})
    finally:
        stack.broker_proxy.restore()

    def accepted() -> bool:
        response = api.post("/tools/echo/jobs", json={"inputs": {"message": "back"}})
        assert response.status_code in (202, 503), response.text
        return response.status_code == 202

    wait_until(accepted, timeout=20, interval=0.5)
    assert wait_until(lambda: all_ended(2), timeout=20) == {"succeeded": 2}
    assert worker is not None
    assert stack.worker is worker
    assert worker.poll() is None, "the worker exited when the broker went away"
    api.close()
    return first, second


def test_broker_refusing_connections_at_submit_is_503_and_leaves_no_job(
    stack: Stack, observe: Any
) -> None:
    first, second = check_broker_fault(stack, stack.broker_proxy.cut)
    observe(
        f"2 submits refused in {first:.1f}s and {second:.1f}s, leaving no row; the job "
        "running meanwhile and the next submit after the broker came back ran, on the "
        "same worker"
    )


def test_broker_hanging_at_submit_is_503_within_seconds_and_leaves_no_job(
    stack: Stack, observe: Any
) -> None:
    first, second = check_broker_fault(stack, stack.broker_proxy.stall)
    observe(
        f"2 submits refused in {first:.1f}s and {second:.1f}s, leaving no row; the job "
        "running meanwhile and the next submit after the broker came back ran, on the "
        "same worker"
    )
