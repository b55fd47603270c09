"""`make bench`: tooljobs against a naive FastAPI+Celery peer on this machine, in one run.

Starts what it needs on loopback (its own database and Redis databases), measures,
stops everything it started, prints a table and writes bench/results/latest.json.
Figures so far: submit and poll throughput with wrk (32 connections), each repeated,
min/median/max. Run from backend/app with its virtualenv's Python.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent / "backend" / "app"
BIN = Path(sys.executable).parent
PG = "postgresql+psycopg2://postgres@127.0.0.1:5432"
REDIS = "redis://127.0.0.1:6379"

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


@contextmanager
def processes(commands: list[list[str]], env: dict[str, str], cwd: Path) -> Iterator[None]:
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
        yield
    finally:
        for process in started:
            process.terminate()
        for process in started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def wait_for(url: str) -> None:
    for _ in range(120):
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} never answered")


def fresh_databases() -> None:
    for database in ("tooljobs_bench", "tooljobs_bench_peer"):
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c",
             f"DROP DATABASE IF EXISTS {database} WITH (FORCE)", "-c", f"CREATE DATABASE {database}"],
            check=True,
        )
    for db in (8, 9, 10, 11):
        subprocess.run(["redis-cli", "-n", str(db), "flushdb"], check=True, capture_output=True)


def wrk(url: str, script: str, seconds: int, **env: str) -> dict[str, float]:
    result = subprocess.run(
        ["wrk", "-t", "2", "-c", "32", "-d", f"{seconds}s", "--latency", "-s", str(BENCH_DIR / script), url],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    out = result.stdout

    def latency_ms(percent: str) -> float:
        value, unit = re.search(rf"{percent}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": latency_ms("50"),
        "p99_ms": latency_ms("99"),
        "errors": float((int(errors.group(1)) if errors else 0)
                        + (sum(map(int, socket_errors.groups())) if socket_errors else 0)),
    }


def repeated(runs: int, measure) -> dict[str, dict[str, float]]:  # type: ignore[no-untyped-def]
    samples = [measure() for _ in range(runs)]
    return {
        key: {
            "min": min(s[key] for s in samples),
            "median": statistics.median(s[key] for s in samples),
            "max": max(s[key] for s in samples),
        }
        for key in samples[0]
    }


def measure_tooljobs(seconds: int, runs: int) -> dict[str, object]:
    fresh_env = {**TOOLJOBS_ENV}
    subprocess.run(["bash", str(BENCH_DIR.parent / "prestart.sh")], env={**os.environ, **fresh_env, "PATH": f"{BIN}:{os.environ['PATH']}"}, check=True, capture_output=True)
    base = "http://127.0.0.1:8101/api/v1"
    with processes(
        [
            ["uvicorn", "app.main:app", "--port", "8101", "--workers", "2", "--log-level", "warning", "--no-access-log"],
            ["celery", "-A", "app.core.celery_app", "worker", "--concurrency", "2", "--loglevel", "WARNING"],
        ],
        fresh_env,
        PROJECT_DIR,
    ):
        wait_for(f"{base}/health")
        token = httpx.post(f"{base}/login/access-token", data={"username": "admin@example.com", "password": "bench-password"}).json()["access_token"]
        auth = f"Bearer {token}"
        body = json.dumps({"tool": "echo", "inputs": {"message": "hi"}})
        job = httpx.post(f"{base}/jobs", content=body, headers={"Authorization": auth, "Content-Type": "application/json"}).json()
        time.sleep(2)
        return {
            "submit": repeated(runs, lambda: wrk(f"{base}/jobs", "post.lua", seconds, WRK_BODY=body, WRK_AUTH=auth)),
            "poll": repeated(runs, lambda: wrk(f"{base}/jobs/{job['id']}", "get.lua", seconds, WRK_AUTH=auth)),
        }


def measure_peer(seconds: int, runs: int) -> dict[str, object]:
    base = "http://127.0.0.1:8102"
    with processes(
        [
            ["uvicorn", "naive_peer:app", "--port", "8102", "--workers", "2", "--log-level", "warning", "--no-access-log"],
            ["celery", "-A", "naive_peer:celery", "worker", "--concurrency", "2", "--loglevel", "WARNING"],
        ],
        PEER_ENV,
        BENCH_DIR,
    ):
        wait_for(f"{base}/docs")
        body = json.dumps({"message": "hi"})
        job = httpx.post(f"{base}/jobs", content=body, headers={"Content-Type": "application/json"}).json()
        time.sleep(2)
        return {
            "submit": repeated(runs, lambda: wrk(f"{base}/jobs", "post.lua", seconds, WRK_BODY=body)),
            "poll": repeated(runs, lambda: wrk(f"{base}/jobs/{job['id']}", "get.lua", seconds)),
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    fresh_databases()
    results = {
        "tooljobs": measure_tooljobs(args.seconds, args.runs),
        "naive_peer": measure_peer(args.seconds, args.runs),
        "seconds": args.seconds,
        "runs": args.runs,
        "cpus": os.cpu_count(),
    }
    out = BENCH_DIR / "results" / "latest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"{'figure':<28}{'tooljobs':>12}{'naive peer':>12}{'ratio':>8}")
    for figure in ("submit", "poll"):
        for key in ("rps", "p50_ms", "p99_ms", "errors"):
            ours = results["tooljobs"][figure][key]["median"]  # type: ignore[index]
            theirs = results["naive_peer"][figure][key]["median"]  # type: ignore[index]
            ratio = f"{ours / theirs:.2f}" if theirs else "-"
            print(f"{figure + ' ' + key + ' (median)':<28}{ours:>12.1f}{theirs:>12.1f}{ratio:>8}")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
