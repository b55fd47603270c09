"""The tool framework in-process: registry, mockups, JobContext, CommandLineTool, built-ins."""

import gzip
import hashlib
import json
import os
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import BaseModel, JsonValue

from app.core.config import settings
from app.tools.argv import Flag, Option, build_argv
from app.tools.base import Tool, ToolError, ToolTimeout
from app.tools.builtin.compress import Compress
from app.tools.command_line import (
    MAX_STDOUT_OUTPUT_BYTES,
    CommandLineTool,
    CompletedProgram,
    Stdout,
)
from app.tools.context import JobCancelled, JobContext
from app.tools.files import FileRef
from app.tools.mockups.compress import CompressMockup
from app.tools.registry import catalog, get_tool, tools_by_name
from app.tools.testing import LocalRuntime, ToolRunner
from tests.support.tool_packages import install_distribution


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


# --- argv -----------------------------------------------------------------------------


def test_unset_inputs_are_left_out_of_argv_not_passed_empty() -> None:
    argv = ("uniq", Option("--skip-fields"), "--width={width}", "--", "{file}")
    values = {"skip_fields": None, "width": None, "file": "in.txt"}
    assert build_argv(argv, values) == ["uniq", "--", "in.txt"]
    values = {"skip_fields": 0, "width": 80, "file": "in.txt"}
    assert build_argv(argv, values) == ["uniq", "--skip-fields", "0", "--width=80", "--", "in.txt"]


def test_a_flag_is_on_the_command_line_only_when_its_input_is_true() -> None:
    argv = ("uniq", Flag("--count"), Flag("-i", "ignore_case"))
    assert build_argv(argv, {"count": True, "ignore_case": False}) == ["uniq", "--count"]
    assert build_argv(argv, {"count": False, "ignore_case": True}) == ["uniq", "-i"]


def test_lists_repeat_an_option_or_a_template_once_per_item() -> None:
    argv = ("grep", Option("-e", "patterns"), "--", "{files}", "--label={labels}")
    values = {"patterns": ["a", "--b"], "files": ["x", "y"], "labels": []}
    assert build_argv(argv, values) == ["grep", "-e", "a", "-e", "--b", "--", "x", "y"]


def test_a_template_naming_two_lists_is_refused() -> None:
    with pytest.raises(ValueError, match="more than one list"):
        build_argv(("{a}={b}",), {"a": [1], "b": [2]})


def test_flags_and_options_use_the_input_named_after_them_as_argparse_does() -> None:
    assert Option("--skip-fields").input == "skip_fields"
    assert Flag("-n").input == "n"
    assert Option("-n", "lines").input == "lines"


# --- stdin and stdout -----------------------------------------------------------------


class ScriptOutputs(BaseModel):
    value: JsonValue = None


class PythonScript(CommandLineTool[PrintInputs, ScriptOutputs]):
    """Runs `text` as a Python script; its stdout is the output `value`."""

    name = "python-script"
    version = "1"
    title = "Python"
    argv: ClassVar[tuple[str, ...]] = (sys.executable, "-c", "{text}")
    stdout = Stdout("value")


def test_stdout_kept_as_an_output_loses_its_trailing_newlines_and_stays_out_of_the_log(
    runner: ToolRunner,
) -> None:
    run = runner.run(PythonScript, {"text": "print(' two\\n lines '); print(); print()"})
    assert run.outputs.value == " two\n lines "
    assert run.logs == []


def test_stdout_too_large_for_an_output_says_to_keep_it_as_an_artifact(
    runner: ToolRunner,
) -> None:
    script = f"print('x' * {MAX_STDOUT_OUTPUT_BYTES + 1})"
    with pytest.raises(ToolError, match=r"python.* wrote more than .*Stdout\(artifact=...\)"):
        runner.run(PythonScript, {"text": script})


def test_stdout_that_is_not_utf8_is_a_tool_error(runner: ToolRunner) -> None:
    with pytest.raises(ToolError, match="not UTF-8"):
        runner.run(PythonScript, {"text": "import sys; sys.stdout.buffer.write(b'\\xff')"})


class ParsedScript(PythonScript):
    name = "parsed-script"
    stdout = Stdout("value", parse=json.loads)


def test_stdout_parsed_into_an_output_or_a_tool_error_naming_what_it_read(
    runner: ToolRunner,
) -> None:
    parsed = runner.run(ParsedScript, {"text": "print('{\"a\": [1, null]}')"})
    assert parsed.outputs.value == {"a": [1, None]}
    with pytest.raises(ToolError, match=r"cannot read python.*'s stdout 'not json'"):
        runner.run(ParsedScript, {"text": "print('not json')"})


class CountOutputs(BaseModel):
    count: int


class CountScript(CommandLineTool[PrintInputs, CountOutputs]):
    name = "count-script"
    version = "1"
    title = "Count"
    argv: ClassVar[tuple[str, ...]] = (sys.executable, "-c", "{text}")
    stdout = Stdout("count")


def test_stdout_that_does_not_fit_the_outputs_is_a_tool_error_naming_the_model(
    runner: ToolRunner,
) -> None:
    assert runner.run(CountScript, {"text": "print(' 42 ')"}).outputs.count == 42
    with pytest.raises(ToolError, match=r"do not fit CountOutputs: count: .*integer.*'many'"):
        runner.run(CountScript, {"text": "print('many')"})


class Silent(CountScript):
    name = "silent"
    stdout = None


def test_outputs_nothing_gives_are_a_tool_error_that_says_how_to_give_them(
    runner: ToolRunner,
) -> None:
    with pytest.raises(ToolError, match="count: nothing gives it"):
        runner.run(Silent, {"text": "pass"})


class FileInputs(BaseModel):
    file: FileRef


class Cat(CommandLineTool[FileInputs, ScriptOutputs]):
    """Copies its stdin, a file input, to its stdout, kept byte for byte as an artifact."""

    name = "cat"
    version = "1"
    title = "Cat"
    argv = ("cat",)
    stdin = "file"
    stdout = Stdout("value", artifact="copy-of-{file.name}")


def test_stdin_from_a_file_input_and_stdout_kept_as_an_artifact(
    runner: ToolRunner, tmp_path: Path
) -> None:
    binary = tmp_path / "data.bin"
    binary.write_bytes(bytes(range(256)) * 100)
    run = runner.run(Cat, {"file": runner.add_file(binary)})
    assert run.outputs.value == "copy-of-data.bin"
    assert run.artifacts["copy-of-data.bin"].read_bytes() == binary.read_bytes()
    assert run.logs == []


class MaybeFileInputs(BaseModel):
    file: FileRef | None = None


class CountBytes(CommandLineTool[MaybeFileInputs, CountOutputs]):
    name = "count-bytes"
    version = "1"
    title = "Count bytes"
    argv = ("wc", "--bytes")
    stdin = "file"
    stdout = Stdout("count")


def test_stdin_is_empty_when_its_file_input_is_unset(runner: ToolRunner, tmp_path: Path) -> None:
    assert runner.run(CountBytes, {}).outputs.count == 0
    five = tmp_path / "five.txt"
    five.write_text("12345")
    assert runner.run(CountBytes, {"file": runner.add_file(five)}).outputs.count == 5


def test_command_can_be_built_in_code(runner: ToolRunner) -> None:
    class Shout(PythonScript):
        name = "shout"

        def command(self, inputs: PrintInputs, ctx: JobContext) -> list[str]:
            return [sys.executable, "-c", f"print({inputs.text.upper()!r})"]

    assert runner.run(Shout, {"text": "hey"}).outputs.value == "HEY"


def test_stdout_needs_an_output_or_an_artifact_and_an_artifact_takes_no_parse() -> None:
    with pytest.raises(ValueError, match="an output, an artifact, or both"):
        Stdout()
    with pytest.raises(ValueError, match="no parse"):
        Stdout("value", parse=json.loads, artifact="out.json")
