"""A client generated from the OpenAPI document by a standard generator
(openapi-python-client, which `make test` installs in .tools/generator) submits a job and
reads it from a real API and worker: what the document says is enough to use the API."""

import importlib
import subprocess
import sys
from collections.abc import Iterator
from types import ModuleType

import httpx
import pytest

from tests.support.paths import REPO_ROOT
from tests.support.users import make_user

GENERATOR = REPO_ROOT / ".tools" / "generator" / "bin" / "openapi-python-client"
PACKAGE = "generated_tooljobs"


@pytest.fixture(scope="module")
def generated(api_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The client package, generated from the running API's document."""
    assert GENERATOR.exists(), f"{GENERATOR} is missing: `make test` installs it"
    folder = tmp_path_factory.mktemp("generated")
    document = folder / "openapi.json"
    document.write_bytes(httpx.get(f"{api_url}/api/v1/openapi.json").content)
    subprocess.run(
        [
            *[str(GENERATOR), "generate", "--path", str(document), "--meta", "none"],
            *["--output-path", str(folder / PACKAGE)],
        ],
        check=True,
        capture_output=True,
    )
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [name for name in sys.modules if name.startswith(PACKAGE)]:
            del sys.modules[name]


@pytest.mark.usefixtures("worker")
def test_a_generated_client_submits_and_reads_a_job(generated: ModuleType, api_url: str) -> None:
    submit = importlib.import_module(f"{PACKAGE}.api.jobs.jobs_submit_job")
    read = importlib.import_module(f"{PACKAGE}.api.jobs.jobs_read_job")
    models = importlib.import_module(f"{PACKAGE}.models")
    client = generated.AuthenticatedClient(base_url=api_url, token=make_user("gen@example.com"))

    # One class per tool for a submission: `tool` selects its inputs' type.
    body = models.JobCreateEcho.from_dict({"tool": "echo", "inputs": {"message": "generated"}})
    assert body.inputs.message == "generated"
    queued = submit.sync(client=client, body=body)
    assert isinstance(queued, models.JobRead), queued
    job = read.sync(queued.id, client=client, wait=30)
    assert isinstance(job, models.JobRead), job
    assert job.state.value == "succeeded"
    assert job.outputs.to_dict() == {"message": "generated", "payload": None}

    missing = read.sync_detailed(queued.id.__class__(int=0), client=client)
    assert missing.status_code == 404
    assert isinstance(missing.parsed, models.ErrorMessage)
