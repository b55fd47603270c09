"""The server's commands of `tooljobs` speak to people: an error is a line or two and an
exit code, `--debug` shows the traceback, `local-tools check` names each broken tool,
`local-tools run` leaves nothing behind, and the secrets warning is gone from local use.
They run as part of the whole command, the client's (tooljobs_client.cli), which loads
them through the `tooljobs.commands` entry point."""

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from tooljobs_client.cli import app
from typer.testing import CliRunner, Result

from app.cli import EXIT_CODES
from app.tools import builtin
from tests.support.paths import PROJECT_DIR, REPO_ROOT
from tests.support.tool_packages import BROKEN_EXPECTED, install_broken_tools

GUIDE = (REPO_ROOT / "TOOLS.md").read_text()


def tooljobs(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def assert_short_error(result: Result, code: int, message: str) -> None:
    assert result.exit_code == code, result.output
    assert result.stderr.startswith(f"error: {message}")
    assert len(result.stderr.splitlines()) <= 2
    assert "Traceback" not in result.output


def test_help_documents_the_exit_codes() -> None:
    for command in (["create-database"], ["local-tools", "check"]):
        shown = " ".join(tooljobs(*command, "--help").output.split())
        assert " ".join(EXIT_CODES.split()) in shown.replace(" │ ", " ")
    assert "--debug" in tooljobs("--help").output


def test_check_prints_a_line_per_tool_and_exits_0_when_all_load() -> None:
    result = tooljobs("local-tools", "check")
    assert result.exit_code == 0, result.output
    assert "ok      echo 1.0.0 (app/tools/builtin/diagnostics.py:" in result.stdout
    assert "ok      compress mockup (app/tools/mockups/compress.py:" in result.stdout
    assert "broken" not in result.stdout


def test_check_names_each_broken_tool_and_its_file_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_broken_tools(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    result = tooljobs("local-tools", "check")
    assert result.exit_code == 1
    broken_lines = [line for line in result.stdout.splitlines() if line.startswith("broken")]
    assert len(broken_lines) == len(BROKEN_EXPECTED) + 2
    source = tmp_path / "tooljobs_broken.py"
    assert any(
        line.startswith(f"broken  {source}:") and "ArgvTypo ('argv-typo'): argv item" in line
        for line in broken_lines
    )
    assert f"broken  {tmp_path / 'tooljobs_unimportable.py'}: " in result.stdout
    assert "ok      still-good 1.0.0" in result.stdout
    assert_short_error(result, 1, f"{len(broken_lines)} of ")
    for module in ("tooljobs_broken", "tooljobs_unimportable"):
        sys.modules.pop(module, None)


COUNT_LINES_WITH_A_TYPO = '''\
"""`count-lines`: the lines of a file, by wc."""

from pydantic import BaseModel

from app.tools.command_line import CommandLineTool, Stdout
from app.tools.files import FileRef


class CountLinesInputs(BaseModel):
    file: FileRef


class CountLinesOutputs(BaseModel):
    lines: int


class CountLines(CommandLineTool[CountLinesInputs, CountLinesOutputs]):
    name = "count-lines"
    version = "1.0.0"
    title = "Count lines"
    argv = ("wc", "--lines", "{fiel}")
    stdout = Stdout("lines", parse=lambda text: text.split()[0])
'''


def test_the_guides_check_output_is_what_check_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = re.search(r"```text\n(ok .*?)\n(broken .*?)\n```", GUIDE, re.DOTALL)
    assert shown is not None
    ok_line, broken_line = shown.groups()
    monkeypatch.chdir(PROJECT_DIR)
    # The line of a built-in tool moves as its file changes.
    without_line = re.compile(r":\d+\)")
    checked = tooljobs("local-tools", "check").stdout
    assert without_line.sub(")", ok_line) in without_line.sub(")", checked)
    # The guide's broken tool, in a builtin folder of its own.
    folder = tmp_path / "app" / "tools" / "builtin"
    folder.mkdir(parents=True)
    (folder / "count_lines.py").write_text(COUNT_LINES_WITH_A_TYPO)
    monkeypatch.setattr(builtin, "__path__", [*builtin.__path__, str(folder)])
    monkeypatch.chdir(tmp_path)
    assert broken_line in tooljobs("local-tools", "check").stdout.splitlines()
    sys.modules.pop("app.tools.builtin.count_lines", None)


def test_run_prints_outputs_and_removes_its_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = tooljobs("local-tools", "run", "echo", "--input", "message=hi", "-i", "payload=[1]")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "outputs": {"message": "hi", "payload": [1]},
        "artifacts": {},
    }
    assert list(tmp_path.iterdir()) == []


def test_run_copies_artifacts_into_the_output_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("a few words\n" * 100)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    out = tmp_path / "out"
    result = tooljobs("local-tools", "run", "compress", "-i", f"file=@{notes}", "-o", str(out))
    assert result.exit_code == 0, result.output
    artifact = json.loads(result.stdout)["artifacts"]["notes.txt.gz"]
    assert artifact == {
        "size": (out / "notes.txt.gz").stat().st_size,
        "path": str(out / "notes.txt.gz"),
    }
    assert list(scratch.iterdir()) == []


def test_run_errors_are_a_line_or_two_with_an_exit_code(tmp_path: Path) -> None:
    assert_short_error(tooljobs("local-tools", "run", "nope"), 2, "unknown tool 'nope'")
    typo = tooljobs("local-tools", "run", "echo", "-i", "mesage=hi")
    assert_short_error(typo, 2, "invalid inputs: message: Field required; mesage: Extra inputs")
    assert typo.stderr.splitlines()[1] == "echo takes: message, payload"
    assert_short_error(tooljobs("local-tools", "run", "fail"), 1, "fail failed: failed on purpose")
    missing = tooljobs("local-tools", "run", "checksum", "-i", f"file=@{tmp_path / 'none.txt'}")
    assert missing.exit_code == 2
    assert "no file" in missing.output


def test_debug_shows_the_traceback() -> None:
    result = tooljobs("--debug", "local-tools", "run", "fail")
    assert result.exit_code == 1
    assert type(result.exception.__cause__).__name__ == "ToolError"


def run_tooljobs(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "tooljobs"), *args],
        cwd=PROJECT_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_changethis_secrets_are_refused_once_outside_local_and_quiet_locally() -> None:
    refused = run_tooljobs("create-database", ENVIRONMENT="production", SECRET_KEY="changethis")
    assert refused.returncode == 3
    assert refused.stderr.count("changethis") == 1
    assert refused.stderr.startswith('error: invalid settings: SECRET_KEY still "changethis"')
    assert len(refused.stderr.splitlines()) == 2
    local = run_tooljobs("local-tools", "list", ENVIRONMENT="local", SECRET_KEY="changethis")
    assert local.returncode == 0
    assert local.stderr == ""
