"""The tool framework in-process: registry, mockups, JobContext, CommandLineTool, built-ins."""

import gzip
import hashlib
import os
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import BaseModel

from app.core.config import settings
from app.tools.base import Tool, ToolError, ToolTimeout
from app.tools.builtin.compress import Compress
from app.tools.command_line import CommandLineTool, CompletedProgram
from app.tools.context import JobCancelled, JobContext
from app.tools.mockups.compress import CompressMockup
from app.tools.registry import catalog, get_tool, tools_by_name
from app.tools.testing import LocalRuntime, ToolRunner


@pytest.fixture
def runner(tmp_path: Path) -> ToolRunner:
    return ToolRunner(tmp_path / "runs")


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text("one two\nthree\n" * 1000)
    return path


@pytest.fixture
def fresh_registry() -> Iterator[None]:
    catalog.cache_clear()
    yield
    catalog.cache_clear()


# --- registry -------------------------------------------------------------------------


def test_builtin_tools_are_found() -> None:
    assert {"echo", "sleep", "fail", "checksum", "compress", "text-stats"} <= set(tools_by_name())


@pytest.mark.usefixtures("fresh_registry")
def test_mockup_twins_replace_tools_only_with_mockup_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "MOCKUP_TESTS", False)
    assert get_tool("compress") is Compress
    catalog.cache_clear()
    monkeypatch.setattr(settings, "MOCKUP_TESTS", True)
    assert get_tool("compress") is CompressMockup


def install_distribution(root: Path, module: str, source: str, entry_point: str) -> None:
    """A distribution on sys.path with an entry point in the group tooljobs.tools."""
    (root / f"{module}.py").write_text(source)
    info = root / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[tooljobs.tools]\n{module} = {entry_point}\n")


PLUGIN_TOOL = """
from pydantic import BaseModel
from app.tools.base import Tool

class Inputs(BaseModel):
    n: int

class Outputs(BaseModel):
    doubled: int

class Double(Tool[Inputs, Outputs]):
    name = "{name}"
    version = "0.1.0"
    title = "Double"

    def run(self, inputs, ctx):
        return Outputs(doubled=inputs.n * 2)
"""


@pytest.mark.usefixtures("fresh_registry")
def test_tools_of_installed_packages_are_found_by_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runner: ToolRunner
) -> None:
    install_distribution(
        tmp_path, "tooljobs_double", PLUGIN_TOOL.format(name="double"), "tooljobs_double"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert runner.run("double", {"n": 21}).outputs.doubled == 42


@pytest.mark.usefixtures("fresh_registry")
def test_two_tools_with_one_name_are_both_left_out_naming_each_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_distribution(
        tmp_path, "tooljobs_clash", PLUGIN_TOOL.format(name="echo"), "tooljobs_clash:Double"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "echo" not in tools_by_name()
    errors = {broken.label: broken.error for broken in catalog().broken}
    assert "diagnostics.Echo" in errors["Double ('echo')"]
    assert "tooljobs_clash.Double" in errors["Echo ('echo')"]


# --- JobContext and the runner --------------------------------------------------------


def test_artifact_names_must_be_plain_file_names(tmp_path: Path) -> None:
    made = tmp_path / "made.txt"
    made.write_text("x")
    ctx = JobContext(uuid.uuid4(), tmp_path, LocalRuntime(tmp_path / "kept"))
    for name in ["../escape.txt", "a/b", ".hidden", "..", "x\x00y", "a\\b"]:
        with pytest.raises(ValueError, match="plain file name"):
            ctx.add_artifact(made, name=name)
    assert ctx.add_artifact(made, "ok.txt").size == 1


# --- built-in tools -------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["sha256", "sha1", "md5", "blake2b"])
def test_checksum(runner: ToolRunner, text_file: Path, algorithm: str) -> None:
    run = runner.run("checksum", {"file": runner.add_file(text_file), "algorithm": algorithm})
    expected = hashlib.new(algorithm, text_file.read_bytes()).hexdigest()
    assert run.outputs.model_dump() == {
        "algorithm": algorithm,
        "hexdigest": expected,
        "size": text_file.stat().st_size,
    }
    assert run.progress[-1][0] == 1.0


@pytest.mark.parametrize("tool", [Compress, CompressMockup])
def test_compress_and_its_mockup_make_the_same_artifact(
    runner: ToolRunner, text_file: Path, tool: type[Compress]
) -> None:
    run = runner.run(tool, {"file": runner.add_file(text_file), "level": 9})
    assert run.outputs.artifact == "notes.txt.gz"
    assert run.outputs.size_in == text_file.stat().st_size
    packed = run.artifacts["notes.txt.gz"]
    assert run.outputs.size_out == packed.stat().st_size < run.outputs.size_in
    assert gzip.decompress(packed.read_bytes()) == text_file.read_bytes()
    assert text_file.exists()  # the input is left alone


def test_text_stats_of_text_and_of_a_file(runner: ToolRunner, text_file: Path) -> None:
    assert runner.run("text-stats", {"text": "a b\nc"}).outputs.model_dump() == {
        "lines": 2,
        "words": 3,
        "chars": 5,
    }
    from_file = runner.run("text-stats", {"file": runner.add_file(text_file)}).outputs
    assert (from_file.lines, from_file.words) == (2000, 3000)


@pytest.mark.parametrize(
    "inputs", [{}, {"text": "x", "file": "00000000-0000-0000-0000-000000000000"}]
)
def test_text_stats_needs_exactly_one_source(runner: ToolRunner, inputs: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        runner.run("text-stats", inputs)


# --- CommandLineTool ------------------------------------------------------------------


class PrintInputs(BaseModel):
    text: str


class PrintOutputs(BaseModel):
    returncode: int


class PrintArgument(CommandLineTool[PrintInputs, PrintOutputs]):
    """Prints its one argument between brackets, and the environment it sees."""

    name = "print-argument"
    version = "1"
    title = "Print"
    argv: ClassVar[tuple[str, ...]] = (
        sys.executable,
        "-c",
        "import os, sys; print('[' + sys.argv[1] + ']', len(sys.argv)); print(sorted(os.environ))",
        "{text}",
    )

    def outputs(
        self, inputs: PrintInputs, ctx: JobContext, program: CompletedProgram
    ) -> PrintOutputs:
        return PrintOutputs(returncode=program.returncode)


@pytest.mark.parametrize(
    "template",
    [
        '"; rm -rf / ; echo $(whoami) `id` && touch {pwned}',
        "; touch {pwned}",
        "$(touch {pwned})",
        "`touch {pwned}`",
        "x | touch {pwned}",
        "x & touch {pwned} &",
        "x' ; touch {pwned} ; '",
        "${{IFS}}touch${{IFS}}{pwned}",
        "*",
        "~",
        "--help",
        "a b\tc",
        "→ ünïcødé ☃",
    ],
)
def test_an_input_reaches_the_program_as_one_literal_argument(
    runner: ToolRunner, tmp_path: Path, template: str
) -> None:
    hostile = template.format(pwned=tmp_path / "pwned")
    run = runner.run(PrintArgument, {"text": hostile})
    # Verbatim (no glob, no ~, no $ expansion), and one argument: argv is [-c, hostile].
    assert f"[stdout] [{hostile}] 2" in run.logs
    assert not (tmp_path / "pwned").exists()


def test_a_line_break_in_an_input_stays_inside_the_one_argument(runner: ToolRunner) -> None:
    run = runner.run(PrintArgument, {"text": "a\nrm -rf /"})
    assert run.logs[:2] == ["[stdout] [a", "[stdout] rm -rf /] 2"]


def test_a_nul_in_an_argument_is_a_tool_error_not_a_crash(runner: ToolRunner) -> None:
    with pytest.raises(ToolError, match="cannot start"):
        runner.run(PrintArgument, {"text": "a\x00b"})


def test_the_program_sees_only_allowed_environment_variables(
    runner: ToolRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOOLJOBS_TEST_SECRET", "do-not-leak")
    run = runner.run(PrintArgument, {"text": "x"})
    seen = run.logs[1]
    assert "TOOLJOBS_TEST_SECRET" not in seen
    assert "SECRET_KEY" not in seen
    assert "'PATH'" in seen


class ShellScript(CommandLineTool[PrintInputs, PrintOutputs]):
    """Runs `text` as a bash script (the test's own, trusted) with a 1 s time limit."""

    name = "shell-script"
    version = "1"
    title = "Script"
    time_limit_seconds = 1
    argv: ClassVar[tuple[str, ...]] = ("bash", "-c", "{text}")
    artifact_globs: ClassVar[tuple[str, ...]] = ("*.out",)

    def outputs(
        self, inputs: PrintInputs, ctx: JobContext, program: CompletedProgram
    ) -> PrintOutputs:
        return PrintOutputs(returncode=program.returncode)


def test_non_zero_exit_is_a_tool_error_with_the_tail_of_stderr(runner: ToolRunner) -> None:
    script = "for n in $(seq 1 50); do echo line $n >&2; done; exit 3"
    with pytest.raises(ToolError, match="bash exited with 3") as failed:
        runner.run(ShellScript, {"text": script})
    message = str(failed.value)
    assert "line 50" in message
    assert "line 30" not in message  # only the tail


def test_time_limit_stops_the_whole_process_group(runner: ToolRunner, tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    started = time.monotonic()
    with pytest.raises(ToolTimeout):
        runner.run(ShellScript, {"text": f"sleep 60 & echo $! > {pid_file}; wait"})
    assert time.monotonic() - started < 5
    child = int(pid_file.read_text())
    status = Path(f"/proc/{child}/status")
    assert not status.exists() or "zombie" in status.read_text()


def test_output_files_matching_the_globs_become_artifacts(runner: ToolRunner) -> None:
    run = runner.run(ShellScript, {"text": "echo a > a.out; echo b > b.txt"})
    assert list(run.artifacts) == ["a.out"]
    assert run.artifacts["a.out"].read_text() == "a\n"


class DeepScript(ShellScript):
    """Collects `*.out` files in every folder below its own."""

    name = "deep-script"
    artifact_globs: ClassVar[tuple[str, ...]] = ("**/*.out",)


def test_links_a_program_leaves_are_not_collected_as_artifacts(
    runner: ToolRunner, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.out").write_text("not the job's\n")
    script = (
        f"ln -s {outside / 'secret.out'} leak.out; ln -s {outside} folder; "
        "ln -s /etc/passwd passwd.out; mkdir own; echo mine > own/kept.out"
    )
    run = runner.run(DeepScript, {"text": script})
    assert list(run.artifacts) == ["kept.out"]
    assert run.artifacts["kept.out"].read_text() == "mine\n"
    assert any("leak.out" in line and "not collected" in line for line in run.logs)


class LinkingTool(Tool[PrintInputs, PrintOutputs]):
    """Offers a link to `text` as its artifact, as a careless tool might."""

    name = "linking"
    version = "1"
    title = "Link"

    def run(self, inputs: PrintInputs, ctx: JobContext) -> PrintOutputs:
        link = ctx.workdir / "result.txt"
        link.symlink_to(inputs.text)
        ctx.add_artifact(link)
        return PrintOutputs(returncode=0)


def test_add_artifact_refuses_a_link(runner: ToolRunner) -> None:
    with pytest.raises(ValueError, match="symbolic link"):
        runner.run(LinkingTool, {"text": "/etc/passwd"})


def test_a_missing_program_is_a_tool_error(runner: ToolRunner) -> None:
    class Missing(ShellScript):
        name = "missing"
        argv = ("no-such-program-here", "{text}")

    with pytest.raises(ToolError, match="cannot start 'no-such-program-here'"):
        runner.run(Missing, {"text": "x"})


def test_worker_environment_is_unchanged_by_a_tool(runner: ToolRunner) -> None:
    before = dict(os.environ)
    runner.run(PrintArgument, {"text": "x"})
    assert dict(os.environ) == before


def test_cancelling_stops_a_program_and_its_children_at_once(
    tmp_path: Path, runner: ToolRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid_file = tmp_path / "child.pid"
    runtime_cancel_after(monkeypatch, seconds=0.5)
    started = time.monotonic()
    with pytest.raises(JobCancelled):
        runner.run(ShellScript, {"text": f"sleep 60 & echo $! > {pid_file}; wait"})
    assert time.monotonic() - started < 2
    status = Path(f"/proc/{int(pid_file.read_text())}/status")
    assert not status.exists() or "zombie" in status.read_text()


def runtime_cancel_after(monkeypatch: pytest.MonkeyPatch, *, seconds: float) -> None:
    """Every LocalRuntime reports its job cancelled once `seconds` have passed."""
    deadline = time.monotonic() + seconds
    monkeypatch.setattr(LocalRuntime, "is_cancelled", lambda self: time.monotonic() > deadline)
