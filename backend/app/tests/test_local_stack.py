"""`make run` without servers: `tooljobs run --embedded` on SQLite and an embedded Redis."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.paths import PROJECT_DIR
from tests.support.ports import free_port
from tests.support.waiting import wait_until


def test_embedded_stack_runs_an_echo_job_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}
    }
    env.update(RUNTIME_DIR=str(tmp_path), FIRST_SUPERUSER_PASSWORD="embedded-password")
    log = tmp_path / "stack.log"
    stack = subprocess.Popen(
        [Path(sys.executable).parent / "tooljobs", "run", "--embedded", "--port", str(port)],
        cwd=PROJECT_DIR,
        env=env,
        start_new_session=True,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    try:

        def api_answers() -> bool:
            assert stack.poll() is None, "the stack exited"
            try:
                return httpx.get(f"{base}/health", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(api_answers, timeout=90, interval=0.5)
        token = httpx.post(
            f"{base}/login/access-token",
            data={"username": "admin@example.com", "password": "embedded-password"},
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        submitted = httpx.post(
            f"{base}/jobs", headers=headers, json={"tool": "echo", "inputs": {"message": "hi"}}
        )
        assert submitted.status_code == 202
        location = f"http://127.0.0.1:{port}{submitted.headers['Location']}"

        def succeeded() -> bool:
            return bool(httpx.get(location, headers=headers).json()["state"] == "succeeded")

        wait_until(succeeded, timeout=60, interval=0.2)
        assert (tmp_path / "tooljobs.db").exists()
        ready = httpx.get(f"{base}/health/ready").json()
        assert ready["checks"] == {"database": "ok", "redis": "ok", "broker": "ok", "tools": "ok"}
        children = subprocess.run(
            ["pgrep", "-P", str(stack.pid)], capture_output=True, text=True, check=True
        ).stdout.split()
        assert len(children) == 4  # redis, api, worker and beat; prestart has finished
    finally:
        stack.send_signal(signal.SIGINT)
        assert stack.wait(timeout=60) == 0
    for pid in children:
        assert not Path(f"/proc/{pid}").exists(), f"process {pid} outlived the stack"
    # Its log (beat and the worker at INFO) tells of the job, and not of beat's ticks
    # of the schedule dispatcher, which ran every second meanwhile.
    lines = log.read_text().splitlines()
    job_id = submitted.json()["id"]
    assert any(job_id in line and "succeeded" in line for line in lines), lines[-20:]
    assert not [
        line for line in lines if "dispatch-schedules" in line or "dispatch_schedules[" in line
    ]
