"""What a job costs while a full queue drains with no API load: the worker's own CPU time
(its main process and pool, read from /proc), PostgreSQL's and Redis' (every process
of the two servers), and the jobs finished per second, all from 10% done to all done,
so that the worker's start and the first jobs' warm-up stay out of the figures.

CPU time, unlike throughput, hardly depends on what else the machine does: it is the
figure the worker-cost targets are about.
"""

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def process_tree(root: int) -> list[int]:
    pids = [root]
    for pid in pids:
        try:
            pids += [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except FileNotFoundError:
            pass
    return pids


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system time of each of these processes that still runs."""
    used = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        used[pid] = (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND  # utime, stime
    return used


def cpu_since(before: dict[int, float], now: dict[int, float]) -> float:
    """CPU time used between the two readings: all of a process's that started since, none
    of one that exited (its last part is lost, rather than its whole life subtracted)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in now.items())


def server_pids() -> list[int]:
    """Every PostgreSQL and Redis server process (backends included)."""
    found = subprocess.run(["pgrep", "-x", "(postgres|redis-server)"], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]


def drain(worker_pid: int, done: Callable[[], int], jobs: int, *, timeout: float = 900) -> dict[str, float]:
    """Watch a started worker drain `jobs` queued jobs; `done()` counts the finished ones."""

    def wait_for(count: int) -> None:
        deadline = time.monotonic() + timeout
        while done() < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{done()} of {count} jobs done after {timeout:.0f}s")
            time.sleep(0.25)

    wait_for(jobs // 10)
    first_done, started = done(), time.perf_counter()
    worker_before = cpu_seconds(process_tree(worker_pid))
    servers_before = cpu_seconds(server_pids())
    wait_for(jobs)
    seconds = time.perf_counter() - started
    worker_now = cpu_seconds(process_tree(worker_pid))
    worker = cpu_since(worker_before, worker_now)
    main_process = worker_now[worker_pid] - worker_before[worker_pid]
    servers_used = cpu_since(servers_before, cpu_seconds(server_pids()))
    measured = jobs - first_done
    return {
        "jobs_per_s": measured / seconds,
        "worker_cpu_ms_per_job": 1000 * worker / measured,
        # Celery's own part: the main process receives, dispatches and acknowledges.
        "worker_main_cpu_ms_per_job": 1000 * main_process / measured,
        "servers_cpu_ms_per_job": 1000 * servers_used / measured,
    }
