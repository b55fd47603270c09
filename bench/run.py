"""`make bench`: tooljobs against a naive FastAPI+Celery peer and bare Celery, in one run.

Starts what it needs on loopback (its own databases and Redis databases), measures,
stops everything it started, prints one table and writes bench/results/latest.json.
Every figure is repeated (`--runs`) and reported as min/median/max; the table shows
medians and the ratio tooljobs/peer, which is what the targets are about (absolute
numbers drift on a shared machine, ratios measured in one run much less).
Run from backend/app with its virtualenv's Python (the Makefile does).
"""

import argparse
import asyncio
import csv
import hashlib
import io
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg2
import redis

from drain import cpu_seconds, cpu_since, drain, process_tree

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
PROJECT_DIR = REPO / "backend" / "app"
BIN = Path(sys.executable).parent
PG = "postgresql+psycopg2://postgres@127.0.0.1:5432"
REDIS = "redis://127.0.0.1:6379"
CONNECTIONS = 32
# uvicorn processes of each API; bulk submits come from as many clients at once, so that
# they keep the whole API busy, as wrk's connections do for single submits.
API_PROCESSES = 2
TERMINAL = {"succeeded", "failed", "cancelled", "SUCCESS", "FAILURE", "REVOKED"}

TOOLJOBS_ENV = {
    "ENVIRONMENT": "local",
    "SECRET_KEY": "bench-secret",
    "WEBHOOK_SECRET": "bench-webhook",
    "FIRST_SUPERUSER_PASSWORD": "bench-password",
    "POSTGRES_PASSWORD": "unused",
    "DATABASE_URL": f"{PG}/tooljobs_bench",
    "REDIS_URL": f"{REDIS}/10",
    "CELERY_BROKER_URL": f"{REDIS}/11",
    # High enough never to refuse a submit, so the figures include the limiter's check.
    "RATE_LIMIT_SUBMIT_PER_MINUTE": "100000000",
    "PYTHONWARNINGS": "ignore",
}
PEER_ENV = {
    "PEER_DATABASE_URL": f"{PG}/tooljobs_bench_peer",
    "PEER_BROKER_URL": f"{REDIS}/8",
    "PEER_RESULT_URL": f"{REDIS}/9",
}
BARE_ENV = {"BARE_BROKER_URL": f"{REDIS}/12", "BARE_RESULT_URL": f"{REDIS}/13"}
# The guarantees' floor works on rows of tooljobs' own job table, with its indexes.
FLOOR_ENV = {
    "FLOOR_BROKER_URL": f"{REDIS}/14",
    "FLOOR_REDIS_URL": f"{REDIS}/15",
    "FLOOR_DATABASE_DSN": "host=127.0.0.1 user=postgres dbname=tooljobs_bench",
}
REDIS_DBS = (8, 9, 10, 11, 12, 13, 14, 15)


def uvicorn(app: str, port: int) -> list[str]:
    return ["uvicorn", app, "--port", str(port), "--workers", str(API_PROCESSES),
            "--log-level", "warning", "--no-access-log"]


def celery_worker(app: str) -> list[str]:
    return ["celery", "-A", app, "worker", "--concurrency", "2", "--loglevel", "WARNING"]


@dataclass
class System:
    """One API under test, as a client sees it."""

    name: str
    api: str
    submit_body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    def submit(self, client: httpx.Client) -> str:
        response = client.post(f"{self.api}/jobs", json=self.submit_body, headers=self.headers)
        response.raise_for_status()
        return str(response.json()["id"])

    def state(self, client: httpx.Client, job_id: str, suffix: str = "") -> str:
        response = client.get(f"{self.api}/jobs/{job_id}{suffix}", headers=self.headers)
        response.raise_for_status()
        return str(response.json()["state"])


# --- processes -----------------------------------------------------------------------

@contextmanager
def processes(commands: list[list[str]], env: dict[str, str], cwd: Path) -> Iterator[list[int]]:
    started = [
        subprocess.Popen(
            command,
            env={**os.environ, **env, "PATH": f"{BIN}:{os.environ['PATH']}"},
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for command in commands
    ]
    try:
        yield [process.pid for process in started]
    finally:
        for process in started:
            process.terminate()
        for process in started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def rss_mib(root: int) -> float:
    total_kib = 0
    for pid in process_tree(root):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            continue
        total_kib += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    return total_kib / 1024


def wait_for(url: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} never answered")


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.5)


def psql(database: str, *commands: str) -> str:
    args = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-Atq"]
    for command in commands:
        args += ["-c", command]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()


def fresh_databases() -> None:
    for database in ("tooljobs_bench", "tooljobs_bench_peer"):
        psql("postgres", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)", f"CREATE DATABASE {database}")
    for db in REDIS_DBS:
        redis.Redis.from_url(f"{REDIS}/{db}").flushdb()


# --- measurements --------------------------------------------------------------------

def wrk(url: str, script: str, seconds: int, **env: str) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(CONNECTIONS), "-d", f"{seconds}s", "--latency",
         "-s", str(BENCH_DIR / script), url],
        env={**os.environ, **env}, capture_output=True, text=True, check=True,
    ).stdout

    def latency_ms(percent: str) -> float:
        value, unit = re.search(rf"{percent}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "requests": float(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": latency_ms("50"),
        "p99_ms": latency_ms("99"),
        "errors": float((int(non_2xx.group(1)) if non_2xx else 0)
                        + (sum(map(int, socket.groups())) if socket else 0)),
    }


def submit_load(system: System, seconds: int, api_pid: int | None = None) -> dict[str, float]:
    """wrk's figures; with the API's process, also its CPU time per request (all of its
    uvicorn processes, from /proc), which explains the requests/s."""
    api = process_tree(api_pid) if api_pid is not None else []
    before = cpu_seconds(api)
    figures = wrk(f"{system.api}/jobs", "post.lua", seconds,
                  WRK_BODY=json.dumps(system.submit_body), WRK_AUTH=system.headers.get("Authorization", ""))
    if api:
        figures["api_cpu_ms_per_request"] = 1000 * cpu_since(before, cpu_seconds(api)) / figures["requests"]
    return figures


def poll_load(system: System, job_id: str, seconds: int) -> dict[str, float]:
    return wrk(f"{system.api}/jobs/{job_id}", "get.lua", seconds,
               WRK_AUTH=system.headers.get("Authorization", ""))


def percentile(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * percent / 100))]


def end_to_end(system: System, jobs: int, *, wait: bool = False) -> dict[str, float]:
    """Submit one job, then ask until it ended (every 5 ms, or once with ?wait=); in turn.

    After a CHECKPOINT, for either system: otherwise the pages that the load before left
    dirty are written during the run, and its commits wait on the disk behind them (the
    figure moved by a third between runs)."""
    psql("postgres", "CHECKPOINT")
    latencies = []
    with httpx.Client(timeout=60) as client:
        for _ in range(jobs):
            started = time.perf_counter()
            job_id = system.submit(client)
            if wait:
                while system.state(client, job_id, "?wait=30") not in TERMINAL:
                    pass
            else:
                while system.state(client, job_id) not in TERMINAL:
                    time.sleep(0.005)
            latencies.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99)}


def completed_under_load(system: System, seconds: int, count_completed: Callable[[datetime, datetime], int],
                         drained: Callable[[], bool]) -> dict[str, float]:
    """Jobs that finished while submissions kept coming, per second of the window."""
    start = datetime.now(UTC)
    submitted = submit_load(system, seconds)
    end = datetime.now(UTC)
    done = count_completed(start, end)
    wait_until(drained, timeout=600, what=f"{system.name} to drain its queue")
    return {"completed_per_s": done / seconds, "accepted_per_s": submitted["rps"]}


def repeated(runs: int, measure: Callable[[], dict[str, float]]) -> dict[str, dict[str, float]]:
    return spread([measure() for _ in range(runs)])


def spread(samples: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Each figure's min, median and max over the samples."""
    return {
        key: {
            "min": min(sample[key] for sample in samples),
            "median": statistics.median(sample[key] for sample in samples),
            "max": max(sample[key] for sample in samples),
        }
        for key in samples[0]
    }


# --- tooljobs --------------------------------------------------------------------------

def tooljobs_counts(start: datetime, end: datetime) -> int:
    return int(psql("tooljobs_bench", "SELECT count(*) FROM job WHERE state = 'succeeded' "
                    f"AND finished_at BETWEEN '{start.isoformat()}' AND '{end.isoformat()}'"))


def tooljobs_drained() -> bool:
    return psql("tooljobs_bench", "SELECT count(*) FROM job WHERE state IN ('queued', 'running')") == "0"


def seed_jobs(owner_id: str, rows: int) -> list[str]:
    """`rows` ended jobs of `owner_id`, by COPY; returns a shuffled sample of their ids,
    enough for every run to read ids that no one read before (so none is in a cache)."""
    now = datetime.now(UTC)
    sample: list[str] = []
    with psycopg2.connect(host="127.0.0.1", user="postgres", dbname="tooljobs_bench") as connection:
        cursor = connection.cursor()
        batch = 200_000
        for first in range(0, rows, batch):
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            for n in range(first, min(rows, first + batch)):
                job_id = str(uuid.uuid4())
                if n % 7 == 0:
                    sample.append(job_id)
                at = (now - timedelta(days=20) + timedelta(seconds=n)).isoformat()
                writer.writerow([job_id, owner_id, "echo", "1.0.0", '{"message": "seeded"}', "succeeded",
                                 1.0, "", '{"message": "seeded", "payload": null}', "", 5, 1, 1, "", "",
                                 "{}", False, "", at, at, at, at])
            buffer.seek(0)
            cursor.copy_expert(
                "COPY job (id, owner_id, tool, tool_version, inputs, state, progress, message, outputs,"
                " error, priority, attempt, max_attempts, idempotency_key, schedule_id, labels,"
                " cancel_requested, callback_url, created_at, started_at, finished_at, updated_at)"
                " FROM STDIN WITH (FORMAT csv, NULL '')",
                buffer,
            )
        connection.commit()
    psql("tooljobs_bench", "ANALYZE job")
    random.shuffle(sample)
    return sample


def read_latencies(system: System, sample: list[str], requests: int) -> dict[str, float]:
    """p50 of `GET /jobs?limit=50` and of `GET /jobs/{id}` for ids no one read before
    (taken off `sample`)."""
    with httpx.Client(timeout=30, headers=system.headers) as client:
        lists, gets = [], []
        for _ in range(requests):
            started = time.perf_counter()
            client.get(f"{system.api}/jobs?limit=50").raise_for_status()
            lists.append((time.perf_counter() - started) * 1000)
        for job_id in [sample.pop() for _ in range(requests)]:
            started = time.perf_counter()
            client.get(f"{system.api}/jobs/{job_id}").raise_for_status()
            gets.append((time.perf_counter() - started) * 1000)
    return {"list_p50_ms": statistics.median(lists), "get_p50_ms": statistics.median(gets)}


async def submit_many(system: System, jobs: int) -> None:
    async with httpx.AsyncClient(timeout=60, headers=system.headers) as client:
        remaining = iter(range(jobs))

        async def submitter() -> None:
            for _ in remaining:
                for attempt in range(3):
                    try:
                        (await client.post(f"{system.api}/jobs", json=system.submit_body)).raise_for_status()
                        break
                    except httpx.TransportError:
                        # A kept-alive connection the server closed just as it was reused.
                        if attempt == 2:
                            raise

        await asyncio.gather(*(submitter() for _ in range(CONNECTIONS)))


def worker_memory(system: System, worker_pid: int, jobs: int) -> dict[str, float]:
    """Worker RSS (main process and pool) at start, after the first 1000 jobs, after `jobs`."""
    at_start = rss_mib(worker_pid)
    asyncio.run(submit_many(system, 1000))
    wait_until(tooljobs_drained, timeout=600, what="1000 jobs")
    after_first = rss_mib(worker_pid)
    asyncio.run(submit_many(system, jobs - 1000))
    wait_until(tooljobs_drained, timeout=1800, what=f"{jobs} jobs")
    return {"rss_start_mib": at_start, "rss_1000_mib": after_first, "rss_end_mib": rss_mib(worker_pid)}


def bulk_submit(system: System, jobs: int, batch: int) -> dict[str, float]:
    """Jobs accepted per second through POST /jobs/batch: API_PROCESSES clients at once,
    each sending its share of the batches in turn."""
    sizes = [min(batch, jobs - first) for first in range(0, jobs, batch)]

    def send(share: list[int]) -> None:
        with httpx.Client(timeout=120, headers=system.headers) as client:
            for size in share:
                client.post(f"{system.api}/jobs/batch", json={"jobs": [system.submit_body] * size}).raise_for_status()

    shares = [sizes[n::API_PROCESSES] for n in range(API_PROCESSES)]
    started = time.perf_counter()
    with ThreadPoolExecutor(API_PROCESSES) as pool:
        list(pool.map(send, shares))
    return {"jobs_per_s": jobs / (time.perf_counter() - started)}


def tooljobs_system(api: str, email: str = "admin@example.com", password: str = "bench-password") -> System:
    token = httpx.post(f"{api}/login/access-token",
                       data={"username": email, "password": password}).json()["access_token"]
    return System("tooljobs", api, {"tool": "echo", "inputs": {"message": "hi"}},
                  headers={"Authorization": f"Bearer {token}"})


def light_user(admin: System) -> System:
    """A second user, made by the admin, with nothing queued."""
    email, password = "light@example.com", "light-password"
    httpx.post(f"{admin.api}/users", headers=admin.headers,
               json={"email": email, "password": password}).raise_for_status()
    return tooljobs_system(admin.api, email, password)


def light_user_wait(heavy: System, light: System, backlog: int) -> dict[str, float]:
    """Fair share: `heavy` queues `backlog` jobs (bulk), then `light`, with nothing queued,
    submits one. Its wait from submit to end (polled every 5 ms), against how long the
    backlog took to drain (what a first-come-first-served queue would have made it wait)."""
    started = time.perf_counter()
    bulk_submit(heavy, backlog, 500)
    with httpx.Client(timeout=60) as client:
        submitted = time.perf_counter()
        job_id = light.submit(client)
        while light.state(client, job_id) not in TERMINAL:
            time.sleep(0.005)
        waited = time.perf_counter() - submitted
        heavy_left = int(psql("tooljobs_bench", "SELECT count(*) FROM job WHERE state = 'queued'"))
    wait_until(tooljobs_drained, timeout=900, what="the heavy backlog")
    return {"light_wait_ms": waited * 1000, "backlog_drain_ms": (time.perf_counter() - started) * 1000,
            "heavy_queued_at_light_end": float(heavy_left)}


def drain_tooljobs(jobs: int) -> dict[str, float]:
    """Queue `jobs` with no worker running, stop the API, then let one worker drain them."""
    api = "http://127.0.0.1:8101/api/v1"
    with connect("tooljobs_bench") as database:
        with processes([uvicorn("app.main:app", 8101)], TOOLJOBS_ENV, PROJECT_DIR):
            wait_for(f"{api}/health")
            before = count_ended(database)
            bulk_submit(tooljobs_system(api), jobs, 500)
        with processes([celery_worker("app.core.celery_app")], TOOLJOBS_ENV, PROJECT_DIR) as (worker_pid,):
            return drain(worker_pid, lambda: count_ended(database) - before, jobs)


@contextmanager
def connect(database: str) -> Iterator[Any]:
    connection = psycopg2.connect(host="127.0.0.1", user="postgres", dbname=database)
    connection.autocommit = True
    try:
        yield connection
    finally:
        connection.close()


def count_ended(connection: Any) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM job WHERE state IN ('succeeded', 'failed', 'cancelled')")
        return int(cursor.fetchone()[0])


def prepare_tooljobs() -> None:
    env = {**os.environ, **TOOLJOBS_ENV, "PATH": f"{BIN}:{os.environ['PATH']}"}
    subprocess.run(["bash", str(REPO / "prestart.sh")], env=env, check=True, capture_output=True)


def measure_tooljobs(args: argparse.Namespace) -> dict[str, Any]:
    api = "http://127.0.0.1:8101/api/v1"
    with processes(
        [uvicorn("app.main:app", 8101), celery_worker("app.core.celery_app")], TOOLJOBS_ENV, PROJECT_DIR
    ) as (api_pid, worker_pid):
        wait_for(f"{api}/health")
        system = tooljobs_system(api)
        with httpx.Client(timeout=30) as client:
            finished = system.submit(client)
            owner_id = client.get(f"{api}/users/me", headers=system.headers).json()["id"]
        wait_until(tooljobs_drained, timeout=60, what="the first job")
        results: dict[str, Any] = {
            "submit": repeated(args.runs, lambda: submit_load(system, args.seconds, api_pid)),
        }
        wait_until(tooljobs_drained, timeout=900, what="the submitted jobs")
        results["bulk"] = repeated(args.runs, lambda: bulk_submit(system, args.bulk_jobs, 500))
        wait_until(tooljobs_drained, timeout=900, what="the bulk-submitted jobs")
        results["poll"] = repeated(args.runs, lambda: poll_load(system, finished, args.seconds))
        results["e2e"] = repeated(args.runs, lambda: end_to_end(system, args.e2e_jobs))
        results["e2e_wait"] = repeated(args.runs, lambda: end_to_end(system, args.e2e_jobs, wait=True))
        light = light_user(system)
        results["fair_share"] = repeated(args.runs, lambda: light_user_wait(system, light, args.backlog_jobs))
        results["completed"] = repeated(
            args.runs, lambda: completed_under_load(system, args.seconds, tooljobs_counts, tooljobs_drained))
        results["memory"] = worker_memory(system, worker_pid, args.memory_jobs)
        small = seed_jobs(owner_id, args.small_rows)
        results["rows_small"] = repeated(args.runs, lambda: read_latencies(system, small, 200))
        large = seed_jobs(owner_id, args.large_rows - args.small_rows)
        results["rows_large"] = repeated(args.runs, lambda: read_latencies(system, large, 200))
    return results


# --- the naive peer and bare Celery ------------------------------------------------------

def peer_results() -> list[dict[str, Any]]:
    client = redis.Redis.from_url(PEER_ENV["PEER_RESULT_URL"])
    keys = list(client.scan_iter("celery-task-meta-*", count=1000))
    return [json.loads(value) for value in client.mget(keys) if value] if keys else []


def peer_counts(start: datetime, end: datetime) -> int:
    return sum(
        1 for result in peer_results()
        if result["status"] == "SUCCESS"
        and start <= datetime.fromisoformat(result["date_done"]).replace(tzinfo=UTC) <= end
    )


def peer_drained() -> bool:
    return int(psql("tooljobs_bench_peer", "SELECT count(*) FROM peer_job")) <= len(peer_results())


def measure_peer(args: argparse.Namespace) -> dict[str, Any]:
    api = "http://127.0.0.1:8102"
    with processes([uvicorn("naive_peer:app", 8102), celery_worker("naive_peer:celery")], PEER_ENV,
                   BENCH_DIR) as (api_pid, _):
        wait_for(f"{api}/docs")
        system = System("naive peer", api, {"message": "hi"})
        with httpx.Client(timeout=30) as client:
            finished = system.submit(client)
        wait_until(peer_drained, timeout=60, what="the first peer job")
        results: dict[str, Any] = {
            "submit": repeated(args.runs, lambda: submit_load(system, args.seconds, api_pid)),
        }
        wait_until(peer_drained, timeout=900, what="the submitted peer jobs")
        results["poll"] = repeated(args.runs, lambda: poll_load(system, finished, args.seconds))
        results["e2e"] = repeated(args.runs, lambda: end_to_end(system, args.e2e_jobs))
        results["completed"] = repeated(
            args.runs, lambda: completed_under_load(system, args.seconds, peer_counts, peer_drained))
    return results


def drain_peer(jobs: int) -> dict[str, float]:
    api = "http://127.0.0.1:8102"
    results = redis.Redis.from_url(PEER_ENV["PEER_RESULT_URL"])
    with processes([uvicorn("naive_peer:app", 8102)], PEER_ENV, BENCH_DIR):
        wait_for(f"{api}/docs")
        before = results.dbsize()
        asyncio.run(submit_many(System("naive peer", api, {"message": "hi"}), jobs))
    with processes([celery_worker("naive_peer:celery")], PEER_ENV, BENCH_DIR) as (worker_pid,):
        return drain(worker_pid, lambda: results.dbsize() - before, jobs)


def drain_bare_celery(jobs: int) -> dict[str, float]:
    os.environ.update(BARE_ENV)
    from bare_celery import noop  # noqa: PLC0415 - needs BARE_ENV first

    results = redis.Redis.from_url(BARE_ENV["BARE_RESULT_URL"])
    before = results.dbsize()
    for _ in range(jobs):
        noop.delay("hi")
    with processes([celery_worker("bare_celery:celery")], BARE_ENV, BENCH_DIR) as (worker_pid,):
        return drain(worker_pid, lambda: results.dbsize() - before, jobs)


def drain_guarantee_floor(jobs: int) -> dict[str, float]:
    """guarantee_floor.py's worker on `jobs` queued rows of its own in tooljobs' job table,
    deleted afterwards so that tooljobs' own counts never see them."""
    os.environ.update(FLOOR_ENV)
    from guarantee_floor import run_job  # noqa: PLC0415 - needs FLOOR_ENV first

    with connect("tooljobs_bench") as database, database.cursor() as cursor:
        cursor.execute(
            "INSERT INTO job (id, owner_id, tool, tool_version, inputs, state, progress, priority, attempt,"
            " max_attempts, labels, cancel_requested, created_at, updated_at)"
            " SELECT gen_random_uuid(), (SELECT id FROM \"user\" LIMIT 1), 'guarantee-floor', '1.0.0',"
            " '{\"message\": \"hi\"}', 'queued', 0, 5, 0, 1, '{}', false, now(), now()"
            " FROM generate_series(1, %s) RETURNING id", (jobs,))
        for (job_id,) in cursor.fetchall():
            run_job.delay(job_id)

        def ended() -> int:
            cursor.execute("SELECT count(*) FROM job WHERE tool = 'guarantee-floor' AND state = 'succeeded'")
            return int(cursor.fetchone()[0])

        try:
            with processes([celery_worker("guarantee_floor:celery")], FLOOR_ENV, BENCH_DIR) as (worker_pid,):
                return drain(worker_pid, ended, jobs)
        finally:
            cursor.execute("DELETE FROM job WHERE tool = 'guarantee-floor'")


def measure_drains(args: argparse.Namespace) -> dict[str, Any]:
    """Each system drains a full queue in turn, round after round, so that a slow phase of
    the machine falls on all of them alike."""
    systems = {"tooljobs": drain_tooljobs, "naive_peer": drain_peer, "bare_celery": drain_bare_celery,
               "guarantee_floor": drain_guarantee_floor}
    systems = {name: measure for name, measure in systems.items() if name in args.drain_systems}
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in systems}
    for _ in range(args.runs):
        for name, measure in systems.items():
            samples[name].append(measure(args.drain_jobs))
    return {name: spread(runs) for name, runs in samples.items()}


# --- a large upload ------------------------------------------------------------------------

MIB = 1024 * 1024
UPLOAD_BYTES = 2 * 1024 * MIB
UPLOAD_BOUNDARY = "bench-upload"


def upload_env(redis_dbs: str, storage_dir: Path) -> dict[str, str]:
    """tooljobs on a database of its own and the given Redis databases ("hot state,broker"),
    so that the upload figure can run alone beside someone else's bench; local storage."""
    hot_state, broker = redis_dbs.split(",")
    return {**TOOLJOBS_ENV, "DATABASE_URL": f"{PG}/tooljobs_bench_upload",
            "REDIS_URL": f"{REDIS}/{hot_state}", "CELERY_BROKER_URL": f"{REDIS}/{broker}",
            "STORAGE_URL": storage_dir.as_uri(), "MAX_UPLOAD_BYTES": str(UPLOAD_BYTES)}


def generated_upload(size: int, digest: Any) -> tuple[Iterator[bytes], int]:
    """A multipart body whose file part is `size` generated bytes, made as it is sent
    (hashed into `digest`), and the body's length."""
    head = (f"--{UPLOAD_BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
            'filename="big.bin"\r\n\r\n').encode()
    tail = f"\r\n--{UPLOAD_BOUNDARY}--\r\n".encode()
    block = os.urandom(MIB)

    def body() -> Iterator[bytes]:
        yield head
        for index in range(size // MIB):
            chunk = index.to_bytes(8) + block[8:]
            digest.update(chunk)
            yield chunk
        yield tail

    return body(), len(head) + size + len(tail)


def upload_memory(redis_dbs: str) -> dict[str, float]:
    """Stream UPLOAD_BYTES through POST /files to one uvicorn process on local storage,
    sampling its RSS every 20 ms: the peak against its RSS just before."""
    api = "http://127.0.0.1:8103/api/v1"
    storage_dir = Path(tempfile.mkdtemp(prefix="tooljobs-bench-storage-"))
    env = upload_env(redis_dbs, storage_dir)
    for db in redis_dbs.split(","):
        redis.Redis.from_url(f"{REDIS}/{db}").flushdb()
    psql("postgres", "DROP DATABASE IF EXISTS tooljobs_bench_upload WITH (FORCE)")
    subprocess.run(["bash", str(REPO / "prestart.sh")], env={**os.environ, **env, "PATH": f"{BIN}:{os.environ['PATH']}"},
                   check=True, capture_output=True)
    server = ["uvicorn", "app.main:app", "--port", "8103", "--log-level", "warning", "--no-access-log"]
    try:
        with processes([server], env, PROJECT_DIR) as (api_pid,):
            wait_for(f"{api}/health")
            headers = tooljobs_system(api).headers
            # A first small upload, so that what it loads once is not counted.
            httpx.post(f"{api}/files", headers=headers, files={"file": ("a", b"a")}).raise_for_status()
            before = rss_mib(api_pid)
            peak = before
            done = threading.Event()

            def sample() -> None:
                nonlocal peak
                while not done.wait(0.02):
                    peak = max(peak, rss_mib(api_pid))

            sampler = threading.Thread(target=sample)
            sampler.start()
            digest = hashlib.sha256()
            body, length = generated_upload(UPLOAD_BYTES, digest)
            started = time.perf_counter()
            try:
                response = httpx.post(f"{api}/files", content=body, timeout=1800, headers={
                    **headers, "Content-Type": f"multipart/form-data; boundary={UPLOAD_BOUNDARY}",
                    "Content-Length": str(length)})
            finally:
                done.set()
                sampler.join()
            seconds = time.perf_counter() - started
            response.raise_for_status()
            stored = response.json()
            if (stored["size"], stored["sha256"]) != (UPLOAD_BYTES, digest.hexdigest()):
                raise RuntimeError(f"the upload came back as {stored}")
    finally:
        shutil.rmtree(storage_dir, ignore_errors=True)
        for db in redis_dbs.split(","):
            redis.Redis.from_url(f"{REDIS}/{db}").flushdb()
        psql("postgres", "DROP DATABASE IF EXISTS tooljobs_bench_upload WITH (FORCE)")
    return {"upload_mib": UPLOAD_BYTES / MIB, "rss_before_mib": before, "rss_peak_mib": peak,
            "rss_growth_mib": peak - before, "mib_per_s": UPLOAD_BYTES / MIB / seconds}


# --- the table -----------------------------------------------------------------------------

# (label, section, key, direction, target): ratio tooljobs/peer unless the label says.
FIGURES = [
    ("submit req/s", "submit", "rps", "higher", 1.2),
    ("submit p99 ms", "submit", "p99_ms", "lower", None),
    ("submit errors", "submit", "errors", "lower", None),
    ("submit: API CPU ms/request", "submit", "api_cpu_ms_per_request", "lower", None),
    ("poll req/s", "poll", "rps", "higher", 2.0),
    ("poll p99 ms", "poll", "p99_ms", "lower", 0.5),
    ("end-to-end p50 ms", "e2e", "p50_ms", "lower", 1.5),
    ("end-to-end p50 ms, ?wait=", "e2e_wait", "p50_ms", "lower", 1.0),
    ("completed jobs/s under load", "completed", "completed_per_s", "higher", 1.0),
]


def table(results: dict[str, Any]) -> list[str]:
    """Medians, each with its spread over the runs (min-max), and their ratio."""
    ours, peer, drains = results["tooljobs"], results["naive_peer"], results["drain"]
    lines = [f"{'figure (median, min-max of runs)':<40}{'tooljobs':>24}{'against':>24}{'ratio':>7}  target"]

    def shown(figure: dict[str, float]) -> str:
        return f"{figure['median']:.2f} ({figure['min']:.2f}-{figure['max']:.2f})"

    def row(label: str, mine: dict[str, float], theirs: dict[str, float], direction: str,
            target: float | None) -> None:
        ratio = mine["median"] / theirs["median"] if theirs["median"] else float("nan")
        verdict = ""
        if target is not None:
            met = ratio >= target if direction == "higher" else ratio <= target
            verdict = f"{'>=' if direction == 'higher' else '<='}{target:g} {'ok' if met else 'MISS'}"
        lines.append(f"{label:<40}{shown(mine):>24}{shown(theirs):>24}{ratio:>7.2f}  {verdict}")

    for label, section, key, direction, target in FIGURES:
        theirs = peer["e2e" if section == "e2e_wait" else section][key]
        row(label, ours[section][key], theirs, direction, target)
    row("bulk submit jobs/s vs single submits", ours["bulk"]["jobs_per_s"], ours["submit"]["rps"], "higher", 10)
    # The floor's rows say whether a target is within reach of anything that keeps the
    # guarantees, and how far above that floor tooljobs' own cost is.
    drain_rows = [
        ("drain: worker CPU ms/job", "worker_cpu_ms_per_job", "tooljobs", "naive_peer", "lower", 1.5),
        ("drain: PG+Redis CPU ms/job", "servers_cpu_ms_per_job", "tooljobs", "naive_peer", "lower", 3),
        ("drain: worker CPU vs bare Celery", "worker_cpu_ms_per_job", "tooljobs", "bare_celery", "lower", None),
        ("drain: Celery main process vs bare", "worker_main_cpu_ms_per_job", "tooljobs", "bare_celery", "lower",
         None),
        ("drain: jobs/s vs bare Celery", "jobs_per_s", "tooljobs", "bare_celery", "higher", 0.75),
        ("drain: worker CPU vs floor", "worker_cpu_ms_per_job", "tooljobs", "guarantee_floor", "lower", None),
        ("drain: PG+Redis CPU vs floor", "servers_cpu_ms_per_job", "tooljobs", "guarantee_floor", "lower", None),
        ("drain: jobs/s vs floor", "jobs_per_s", "tooljobs", "guarantee_floor", "higher", None),
        ("floor: worker CPU ms/job", "worker_cpu_ms_per_job", "guarantee_floor", "naive_peer", "lower", 1.5),
        ("floor: PG+Redis CPU ms/job", "servers_cpu_ms_per_job", "guarantee_floor", "naive_peer", "lower", 3),
        ("floor: jobs/s vs bare Celery", "jobs_per_s", "guarantee_floor", "bare_celery", "higher", 0.75),
    ]
    for label, key, system, other, direction, target in drain_rows:
        if system in drains and other in drains:
            row(label, drains[system][key], drains[other][key], direction, target)
    # Jobs completed under a submit load share two cores among the API, the worker and
    # the servers: a job's whole CPU says how many can complete. The floor's, with the
    # cheaper of the two APIs, says whether completing as many is within reach.
    if {"tooljobs", "naive_peer", "guarantee_floor"} <= drains.keys():
        peer_whole = whole_cpu(drains["naive_peer"], peer["submit"])
        row("whole CPU ms/job (API+worker+servers)", whole_cpu(drains["tooljobs"], ours["submit"]), peer_whole,
            "lower", None)
        cheaper_api = min(ours["submit"], peer["submit"], key=lambda s: s["api_cpu_ms_per_request"]["median"])
        row("floor + the cheaper API: CPU ms/job", whole_cpu(drains["guarantee_floor"], cheaper_api), peer_whole,
            "lower", 1.0)
    for key, label in (("list_p50_ms", "GET /jobs?limit=50 p50 ms"), ("get_p50_ms", "GET /jobs/{id} p50 ms")):
        row(f"{label}, 1M/10k rows", ours["rows_large"][key], ours["rows_small"][key], "lower", 1.5)
    memory = ours["memory"]
    row("worker RSS MiB, 20k/1k jobs", fixed(memory["rss_end_mib"]), fixed(memory["rss_1000_mib"]), "lower", 1.1)
    fair = ours["fair_share"]
    row("light user's wait / backlog drain ms", fair["light_wait_ms"], fair["backlog_drain_ms"], "lower", 0.1)
    lines.append(upload_row(results["upload"]))
    lines.append("against: the naive peer; bare Celery, single submits, 10k rows, 1k jobs or the backlog's drain "
                 "where the label says; floor: bench/guarantee_floor.py, the tooljobs column of the floor's rows")
    return lines


def whole_cpu(drained: dict[str, dict[str, float]], submits: dict[str, dict[str, float]]) -> dict[str, float]:
    """A job's whole CPU in ms: the API's per submit, and the worker's and the servers' per
    job of the drain (medians)."""
    return fixed(submits["api_cpu_ms_per_request"]["median"] + drained["worker_cpu_ms_per_job"]["median"]
                 + drained["servers_cpu_ms_per_job"]["median"])


def upload_row(upload: dict[str, float]) -> str:
    """The upload's RSS growth against its size (measured once)."""
    ratio = upload["rss_growth_mib"] / upload["upload_mib"]
    verdict = f"<=0.05 {'ok' if ratio <= 0.05 else 'MISS'}"
    return (f"{'2 GiB upload: API RSS growth MiB':<40}{upload['rss_growth_mib']:>24.1f}"
            f"{upload['upload_mib']:>24.0f}{ratio:>7.3f}  {verdict}")


def fixed(value: float) -> dict[str, float]:
    """A figure measured once, shown like the repeated ones."""
    return {"min": value, "median": value, "max": value}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20, help="each wrk run")
    parser.add_argument("--runs", type=int, default=3, help="repetitions of each figure")
    parser.add_argument("--e2e-jobs", type=int, default=200)
    parser.add_argument("--drain-jobs", type=int, default=2000, help="queued for each drain")
    # Enough for seconds of steady state: with 2 000 (under a second), the worker that
    # drains them meanwhile had hardly started, and the figure moved by half between runs.
    parser.add_argument("--bulk-jobs", type=int, default=10_000, help="per bulk-submit run")
    parser.add_argument("--memory-jobs", type=int, default=20_000)
    parser.add_argument("--backlog-jobs", type=int, default=5000, help="a heavy user's, for fair share")
    parser.add_argument("--small-rows", type=int, default=10_000)
    parser.add_argument("--large-rows", type=int, default=1_000_000)
    parser.add_argument("--drain-systems", default="tooljobs,naive_peer,bare_celery,guarantee_floor",
                        help="which systems the drains measure (comma-separated)")
    parser.add_argument("--drains-only", action="store_true",
                        help="only the drains (a few minutes): the worker-cost figures while working on them")
    parser.add_argument("--upload-only", action="store_true",
                        help="only the 2 GiB upload's API memory (a minute or two); touches no other bench database")
    parser.add_argument("--upload-redis-dbs", default="10,11",
                        help="the Redis databases (hot state,broker) of the upload's API")
    args = parser.parse_args()
    if args.upload_only:
        upload = upload_memory(args.upload_redis_dbs)
        print(json.dumps(upload, indent=2))
        print(upload_row(upload))
        return
    fresh_databases()
    prepare_tooljobs()
    if args.drains_only:
        print(json.dumps(measure_drains(args), indent=2))
        return
    started = time.monotonic()
    results = {
        # First, while the job table is small: the drains count its ended jobs.
        "drain": measure_drains(args),
        "tooljobs": measure_tooljobs(args),
        "naive_peer": measure_peer(args),
        "upload": upload_memory(args.upload_redis_dbs),
        "settings": vars(args),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                    "load_average_at_end": os.getloadavg()},
    }
    results["minutes"] = round((time.monotonic() - started) / 60, 1)
    lines = table(results)
    results["table"] = lines
    out = BENCH_DIR / "results" / "latest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print("\n".join(lines))
    print(f"written to {out} ({results['minutes']} min)")


if __name__ == "__main__":
    main()
