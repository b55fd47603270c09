"""Every mistake in a tool is found when the tools are loaded, named by its file, its
tool and its fix; the broken tools are left out and the others load."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from app.tools import builtin
from app.tools.inputs import validate_inputs
from app.tools.registry import ToolCatalog, load_tools
from app.tools.testing import ToolRunner
from tests.support.paths import PROJECT_DIR
from tests.support.tool_packages import BROKEN_EXPECTED, install_broken_tools


@pytest.fixture
def broken_tools_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    install_broken_tools(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


@pytest.fixture
def loaded(broken_tools_installed: Path) -> Iterator[ToolCatalog]:
    yield load_tools(mockup_tests=False)
    for module in ("tooljobs_broken", "tooljobs_unimportable"):
        sys.modules.pop(module, None)


def test_each_broken_tool_is_left_out_with_its_fix(loaded: ToolCatalog) -> None:
    errors = {broken.label: broken.error for broken in loaded.broken}
    for label, fix in BROKEN_EXPECTED.items():
        assert fix in errors[label], label
    assert not set(loaded.tools) & {"no-models", "argv-typo", "path-input", "orphan"}


def test_broken_tools_are_named_by_their_file_and_line(
    loaded: ToolCatalog, broken_tools_installed: Path
) -> None:
    source = str(broken_tools_installed / "tooljobs_broken.py")
    where = {broken.label: broken.where for broken in loaded.broken}
    lines = source_lines(Path(source))
    assert where["ArgvTypo ('argv-typo')"] == f"{source}:{lines['class ArgvTypo(']}"
    assert where["MisspelledName"] == f"{source}:{lines['class MisspelledName(']}"


def source_lines(path: Path) -> dict[str, int]:
    return {
        line.split("(")[0] + "(": number
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if line.startswith("class ")
    }


def test_a_module_that_does_not_import_is_a_broken_tool_named_by_its_file(
    loaded: ToolCatalog, broken_tools_installed: Path
) -> None:
    (broken,) = [b for b in loaded.broken if "tooljobs_unimportable" in b.where]
    assert broken.where == str(broken_tools_installed / "tooljobs_unimportable.py")
    assert "cannot be imported (ModuleNotFoundError: No module named 'no_such_module_here')" in (
        broken.error
    )


def test_an_entry_point_that_names_no_tool_is_broken(loaded: ToolCatalog) -> None:
    (broken,) = [b for b in loaded.broken if "not_a_tool" in b.label]
    assert broken.error == "name a module or a Tool class in its value"


def test_the_good_tools_load_beside_the_broken(loaded: ToolCatalog, tmp_path: Path) -> None:
    assert {"still-good", "echo", "compress"} <= set(loaded.tools)
    assert set(loaded.mockups) == {"compress", "still-good"}
    assert ToolRunner(tmp_path).run(loaded.tools["still-good"], {"text": "abc"}).outputs.length == 3


def test_the_api_and_the_worker_start_with_broken_tools(broken_tools_installed: Path) -> None:
    # The app and the tasks import (the API's routes are built then), and a worker's start
    # reports each broken tool once.
    worker_starts = "from celery.signals import worker_init; worker_init.send(sender=None)"
    started = subprocess.run(
        [sys.executable, "-c", f"import app.main, app.worker.tasks; {worker_starts}"],
        cwd=PROJECT_DIR,
        env={**os.environ, "PYTHONPATH": f"{broken_tools_installed}{os.pathsep}{PROJECT_DIR}"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert started.returncode == 0, started.stderr
    mark = "tool left out:"
    logged = [line[line.index(mark) :] for line in started.stderr.splitlines() if mark in line]
    assert len(logged) == len(set(logged)) == len(BROKEN_EXPECTED) + 2
    assert "Traceback" not in started.stderr


# --- inputs are strict -------------------------------------------------------------


class Nested(BaseModel):
    depth: int


class StrictInputs(BaseModel):
    text: str
    nested: Nested | None = None


class TolerantInputs(StrictInputs):
    model_config = ConfigDict(extra="allow")


def test_an_unknown_input_key_is_refused_at_any_depth() -> None:
    with pytest.raises(ValidationError) as refused:
        validate_inputs(StrictInputs, {"text": "x", "txet": "y", "nested": {"depht": 1}})
    assert {(e["loc"], e["type"]) for e in refused.value.errors()} == {
        (("txet",), "extra_forbidden"),
        (("nested", "depth"), "missing"),
        (("nested", "depht"), "extra_forbidden"),
    }


def test_an_inputs_model_that_sets_extra_itself_opts_out() -> None:
    tolerant = validate_inputs(TolerantInputs, {"text": "x", "more": 1})
    assert tolerant.model_dump() == {"text": "x", "nested": None, "more": 1}


def test_a_builtin_module_with_a_syntax_error_is_named_by_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "half_written.py").write_text("class HalfWritten(Tool[\n")
    monkeypatch.setattr(builtin, "__path__", [*builtin.__path__, str(tmp_path)])
    loaded = load_tools(mockup_tests=False)
    (broken,) = loaded.broken
    assert broken.where == str(tmp_path / "half_written.py")
    assert "cannot be imported (SyntaxError: '[' was never closed" in broken.error
    assert "echo" in loaded.tools
