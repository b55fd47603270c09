"""Two machines, simulated: two workers that share no disk (each its own runtime,
storage and temporary directories, its own host name and log) run jobs with input files
on S3 storage, and every artifact downloads through the presigned redirect."""

import gzip
import hashlib
import json
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import httpx
import pytest

from tests.support.job_api import submit_tool_job, wait_for_end
from tests.support.log_files import whole_lines
from tests.support.ports import free_port
from tests.support.processes import answers, start_api, start_worker, stop
from tests.support.s3 import S3Server
from tests.support.users import auth, make_user
from tests.support.waiting import wait_until

UPLOADS = 8


@dataclass(frozen=True)
class Machine:
    """The local directories of one simulated machine, and where its process logs."""

    name: str
    root: Path

    @property
    def log(self) -> Path:
        return self.root / "process.log"

    @property
    def storage_dir(self) -> Path:
        return self.root / "storage"

    def environment(self, storage: dict[str, str]) -> dict[str, str]:
        folders = {"RUNTIME_DIR": "runtime", "STORAGE_DIR": "storage", "TMPDIR": "tmp"}
        for folder in folders.values():
            (self.root / folder).mkdir()
        local = {name: str(self.root / folder) for name, folder in folders.items()}
        return {**storage, **local, "LOG_FORMAT": "json"}

    def job_ids_run(self) -> set[str]:
        """The jobs whose run this machine's worker logged."""
        lines = (json.loads(line) for line in whole_lines(self.log))
        return {
            line["job_id"]
            for line in lines
            if line.get("logger") == "celery.app.trace" and "job_id" in line
        }


@dataclass(frozen=True)
class Cluster:
    api: httpx.Client
    workers: tuple[Machine, Machine]


@pytest.fixture
def cluster(database: None, s3_server: S3Server, tmp_path: Path) -> Iterator[Cluster]:
    """An API and two workers, each on a machine of its own, storing on S3 only."""
    storage = s3_server.environment(f"two-machines-{uuid.uuid4().hex}")
    api_machine, *workers = (Machine(name, tmp_path / name) for name in ("api", "a", "b"))
    for machine in (api_machine, *workers):
        machine.root.mkdir()
    with ExitStack() as stack:

        def log_of(machine: Machine) -> BinaryIO:
            return stack.enter_context(machine.log.open("wb"))

        port = free_port()
        api = start_api(port, env=api_machine.environment(storage), output=log_of(api_machine))
        stack.callback(stop, api)
        for machine in workers:
            worker = start_worker(
                *["--concurrency", "1", "--loglevel", "INFO"],
                env=machine.environment(storage),
                output=log_of(machine),
                name=f"machine-{machine.name}",
            )
            stack.callback(stop, worker)
        client = stack.enter_context(httpx.Client(base_url=f"http://127.0.0.1:{port}"))
        wait_until(lambda: answers(f"{client.base_url}/api/v1/health"), timeout=60, interval=0.2)
        yield Cluster(client, (workers[0], workers[1]))


def test_jobs_with_input_files_succeed_on_two_workers_that_share_no_disk(
    cluster: Cluster,
) -> None:
    headers = auth(make_user("two-machines@example.com"))
    contents = {}
    checksums, compressions = {}, {}
    for index in range(UPLOADS):
        content = f"upload {index}: the quick brown fox\n".encode() * (2000 + index)
        uploaded = cluster.api.post(
            "/api/v1/files",
            headers=headers,
            files={"file": (f"upload-{index}.txt", content, "text/plain")},
        )
        assert uploaded.status_code == 201, uploaded.text
        file_id = uploaded.json()["id"]
        contents[file_id] = content
        checksums[submit_tool_job(cluster.api, headers, "checksum", {"file": file_id})["id"]] = (
            file_id
        )
        compressions[submit_tool_job(cluster.api, headers, "compress", {"file": file_id})["id"]] = (
            file_id
        )

    for job_id, file_id in checksums.items():
        job = wait_for_end(cluster.api, headers, job_id)
        assert job["state"] == "succeeded", job
        assert job["outputs"]["hexdigest"] == hashlib.sha256(contents[file_id]).hexdigest()
    for job_id, file_id in compressions.items():
        job = wait_for_end(cluster.api, headers, job_id)
        assert job["state"] == "succeeded", job
        name = job["outputs"]["artifact"]
        artifact = cluster.api.get(
            f"/api/v1/jobs/{job_id}/artifacts/{name}", headers=headers, follow_redirects=True
        )
        assert [answer.status_code for answer in artifact.history] == [307]
        assert artifact.status_code == 200, artifact.text
        assert gzip.decompress(artifact.content) == contents[file_id]

    # Each machine ran some of the jobs, and all of them between them, each once.
    for machine in cluster.workers:
        assert f"machine-{machine.name}@" in machine.log.read_text()
    # (Messages that earlier tests left in the broker's database, of jobs long deleted,
    # may reach these workers too: only this test's jobs count.)
    submitted = checksums.keys() | compressions.keys()
    ran = [machine.job_ids_run() & submitted for machine in cluster.workers]
    assert all(ran), ran
    assert ran[0] | ran[1] == submitted
    assert not ran[0] & ran[1]
    # Nothing went to a machine's local storage: the files are on S3 only.
    for machine in cluster.workers:
        assert not any(path.is_file() for path in machine.storage_dir.rglob("*"))
