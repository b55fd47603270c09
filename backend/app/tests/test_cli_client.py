"""The people's `tooljobs` commands, run as the installed script against a real API
process and a real worker: login keeps a token only its owner can read, `--json` gives
what a script parses, and the exit code tells how it ended."""

import gzip
import json
import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.support.ports import free_port
from tests.support.users import make_api_key, make_user
from tests.support.waiting import wait_until

TOOLJOBS = Path(sys.executable).parent / "tooljobs"


class Shell:
    """Runs `tooljobs` as a user's shell would: their own HOME and config folder, the
    server's URL in TOOLJOBS_URL unless a test says otherwise."""

    def __init__(self, home: Path, url: str) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLJOBS_")}
        self.env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), COLUMNS="200")
        self.env["TOOLJOBS_URL"] = url

    def __call__(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(TOOLJOBS), *args],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def json(self, *args: str, code: int = 0, **env: str) -> Any:
        result = self(*args, "--json", **env)
        assert result.returncode == code, result.stderr
        return json.loads(result.stdout)


@pytest.fixture
def shell(api_url: str, worker: subprocess.Popen[bytes], tmp_path: Path) -> Shell:
    user = Shell(tmp_path / "home", api_url)
    user.env["TOOLJOBS_TOKEN"] = make_user("user@example.com")
    return user


def test_login_keeps_a_token_only_its_owner_reads_for_that_server(
    api_url: str, tmp_path: Path
) -> None:
    make_user("person@example.com", password="password-123")
    shell = Shell(tmp_path / "home", api_url)

    signed_in = shell.json("login", "-u", "person@example.com", "--password", "password-123")

    kept = Path(signed_in["credentials_file"])
    assert kept == tmp_path / "home" / ".config" / "tooljobs" / "credentials.json"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert signed_in["email"] == "person@example.com"
    # The next commands use it, with no token in the environment...
    assert "echo" in {tool["name"] for tool in shell.json("tools")}
    # ...and the URL it was kept for; it is never sent to another server.
    other = shell("tools", TOOLJOBS_URL=f"http://127.0.0.1:{free_port()}")
    assert other.returncode == 6
    elsewhere = Shell(tmp_path / "home", api_url.replace("127.0.0.1", "localhost"))
    assert elsewhere("tools").returncode == 5
    assert shell.json("logout") == {"forgotten": True}
    assert shell("tools").returncode == 5


def test_a_wrong_password_is_exit_5(api_url: str, tmp_path: Path) -> None:
    make_user("person@example.com", password="password-123")
    shell = Shell(tmp_path / "home", api_url)
    refused = shell("login", "-u", "person@example.com", "--password", "wrong")
    assert refused.returncode == 5
    assert refused.stderr.startswith("error: 401")
    assert not (tmp_path / "home" / ".config" / "tooljobs" / "credentials.json").exists()


def test_submit_a_file_wait_read_the_job_and_download_its_artifact(
    shell: Shell, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("some words\n" * 500)

    job = shell.json("submit", "compress", "level=9", "--file", f"file={notes}", "--wait")

    assert job["state"] == "succeeded"
    assert job["inputs"]["level"] == 9
    assert shell.json("job", job["id"])["outputs"]["artifact"] == "notes.txt.gz"
    out = tmp_path / "out"
    [written] = shell.json("download", job["id"], "-o", str(out))
    assert written["name"] == "notes.txt.gz"
    assert gzip.decompress((out / "notes.txt.gz").read_bytes()) == notes.read_bytes()
    assert shell.json("download", job["id"], "notes.txt.gz", "-o", str(out))[0]["size"] > 0
    missing = shell("download", job["id"], "nothing.txt", "-o", str(out))
    assert missing.returncode == 4


def test_submit_wait_shows_the_messages_and_exits_with_the_jobs_outcome(shell: Shell) -> None:
    ran = shell("submit", "sleep", "seconds=0.6", "steps=3", "--wait")
    assert ran.returncode == 0, ran.stderr
    assert "step 3 of 3" in ran.stderr
    assert "succeeded" in ran.stdout

    failed = shell("submit", "fail", "message=on purpose", "--wait")
    assert failed.returncode == 8
    assert "tool_error: on purpose" in failed.stdout


def test_text_inputs_stay_text_and_others_are_read_as_json(shell: Shell) -> None:
    job = shell.json("submit", "echo", "message=42", "payload=[1, 2]", "--wait")
    assert job["outputs"] == {"message": "42", "payload": [1, 2]}


def test_cancel_a_running_job_and_its_exit_codes(shell: Shell) -> None:
    job = shell.json("submit", "sleep", "seconds=60", "steps=600")
    wait_until(lambda: shell.json("job", job["id"])["state"] == "running", timeout=30)
    cancelled = shell.json("cancel", job["id"])
    assert cancelled["cancel_requested"] is True

    assert shell("job", job["id"], "--wait", "--timeout", "30").returncode == 9
    again = shell("cancel", job["id"])
    assert again.returncode == 1
    assert again.stderr.startswith("error: 409")


def test_wait_timeout_is_exit_10_and_the_job_goes_on(shell: Shell) -> None:
    job = shell.json("submit", "sleep", "seconds=30", "steps=300")
    assert shell("job", job["id"], "--wait", "--timeout", "1").returncode == 10
    assert shell.json("job", job["id"])["state"] in ("queued", "running")
    shell("cancel", job["id"])


def test_logs_and_follow(shell: Shell) -> None:
    job = shell.json("submit", "sleep", "seconds=1", "steps=4")
    followed = shell("logs", job["id"], "--follow")
    assert followed.returncode == 0
    assert followed.stdout.splitlines() == [f"slept step {step}" for step in range(1, 5)]
    assert shell.json("logs", job["id"])["lines"] == followed.stdout.splitlines()


def test_jobs_lists_every_page_as_a_table_or_json(shell: Shell) -> None:
    ids = [shell.json("submit", "echo", f"message={n}", "-l", "batch=b")["id"] for n in range(3)]
    listed = shell.json("jobs", "--label", "batch:b", "--limit", "0")
    assert [job["id"] for job in listed] == ids[::-1]
    assert len(shell.json("jobs", "--limit", "2")) == 2
    table = shell("jobs", "--tool", "echo")
    assert table.returncode == 0
    assert all(job_id in table.stdout for job_id in ids)
    assert shell("jobs", "--state", "nonsense").returncode == 2


def test_errors_have_exit_codes_a_script_can_branch_on(shell: Shell, api_url: str) -> None:
    unknown = shell("job", str(uuid.uuid4()))
    assert unknown.returncode == 4
    assert unknown.stderr == "error: 404: job not found\n"

    typo = shell("submit", "echo", "mesage=hi")
    assert typo.returncode == 2
    assert "body.inputs.message" in typo.stderr
    assert shell("submit", "no-such-tool").returncode == 2
    assert shell("submit", "echo", "message").returncode == 2
    assert shell("frobnicate").returncode == 2

    assert shell("tools", TOOLJOBS_TOKEN="not-a-token").returncode == 5
    assert shell("tools", TOOLJOBS_API_KEY="tj_and_a_token").returncode == 2
    assert shell("tools", TOOLJOBS_URL=f"http://127.0.0.1:{free_port()}").returncode == 6


def test_an_api_key_from_the_environment(shell: Shell) -> None:
    key = make_api_key(shell.env.pop("TOOLJOBS_TOKEN"))
    assert shell("tools").returncode == 5
    tools = shell.json("tools", TOOLJOBS_API_KEY=key)
    assert "sleep" in {tool["name"] for tool in tools}


def test_the_servers_commands_are_in_the_same_command(shell: Shell) -> None:
    shown = shell("--help")
    assert shown.returncode == 0
    for name in ("login", "submit", "download", "run", "wait-for-services", "local-tools"):
        assert f" {name} " in shown.stdout
    assert "checksum\t1.0.0\tChecksum" in shell("local-tools", "list").stdout.splitlines()
