"""TOOLS.md's code runs as written: its Python blocks in order, then the tests they
define; its tools are as short as it promises, its code passes the lint, and its tool
package installs and runs."""

import json
import os
import re
import subprocess
import sys
import tomllib
import types
from pathlib import Path
from typing import Any

import pytest

from app.tools.base import Tool
from app.tools.registry import ENTRY_POINT_GROUP
from tests.support.paths import PROJECT_DIR, REPO_ROOT

GUIDE = (REPO_ROOT / "TOOLS.md").read_text()
BIN = Path(sys.executable).parent


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", GUIDE, flags=re.DOTALL)


def block_defining(class_name: str) -> str:
    (block,) = [block for block in blocks("python") if f"\nclass {class_name}(" in block]
    return block


def guide_namespace() -> dict[str, Any]:
    # One module, as if the reader saved the guide's code in the file it names first, so
    # that its test imports the tool as written (`from word_count import WordCount`).
    module = types.ModuleType("word_count")
    sys.modules[module.__name__] = module
    for block in blocks("python"):
        exec(compile(block, "TOOLS.md", "exec"), module.__dict__)
    return module.__dict__


def guide_tests() -> list[str]:
    return sorted(name for name in guide_namespace() if name.startswith("test_"))


def test_the_guide_defines_tools_and_tests() -> None:
    namespace = guide_namespace()
    tools = [v for v in namespace.values() if isinstance(v, type) and issubclass(v, Tool)]
    assert len([tool for tool in tools if hasattr(tool, "name")]) >= 5
    assert len(guide_tests()) >= 3


@pytest.mark.parametrize("name", guide_tests())
def test_the_guides_tests_pass(name: str, tmp_path: Path) -> None:
    guide_namespace()[name](tmp_path)


def test_the_guides_python_tool_is_one_file_of_at_most_25_lines() -> None:
    assert len(block_defining("WordCount").splitlines()) <= 25


def declaration(block: str) -> list[str]:
    """A tool's models and class: from the first class to the first test."""
    lines = block.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith("class "))
    end = next((n for n, line in enumerate(lines) if line.startswith("def test_")), len(lines))
    return "\n".join(lines[start:end]).strip().splitlines()


@pytest.mark.parametrize("tool", ["Sha1Sum", "LineCount", "ReadJson", "Uniq", "SortLines"])
def test_the_guides_command_line_tools_are_declared_in_at_most_15_lines(tool: str) -> None:
    assert len(declaration(block_defining(tool))) <= 15


def test_the_guides_python_blocks_pass_the_lint(tmp_path: Path) -> None:
    for number, block in enumerate(blocks("python")):
        (tmp_path / f"block_{number:02}.py").write_text(block)
    config = ["--no-cache", "--config", PROJECT_DIR / "pyproject.toml"]
    # F821: a block uses what the blocks before it defined, as the reader does.
    for command in (["check", "--extend-ignore", "F821"], ["format", "--check"]):
        checked = subprocess.run(
            [BIN / "ruff", *command, *config, tmp_path], capture_output=True, text=True
        )
        assert checked.returncode == 0, checked.stdout


def test_the_guides_mockup_gives_what_its_tool_gives(tmp_path: Path) -> None:
    from app.tools.testing import ToolRunner

    namespace = guide_namespace()
    notes = tmp_path / "notes.txt"
    notes.write_text("b\na\n\nc")
    results = []
    for tool in (namespace["LineCount"], namespace["LineCountMockup"]):
        runner = ToolRunner(tmp_path / tool.__name__)
        results.append(runner.run(tool, {"file": runner.add_file(notes)}).outputs)
    assert results[0] == results[1]


def test_the_guides_tool_package_installs_and_runs(tmp_path: Path) -> None:
    (project,) = blocks("toml")
    entry_points = tomllib.loads(project)["project"]["entry-points"]
    assert ENTRY_POINT_GROUP in entry_points
    source = tmp_path / "acme-tools"
    package = source / "acme_tools"
    package.mkdir(parents=True)
    (source / "pyproject.toml").write_text(project)
    (package / "__init__.py").write_text("")
    (package / "tools.py").write_text(block_defining("WordCount"))
    site = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    # Into a folder of its own rather than this environment; the build backend is ours.
    pip += ["--no-build-isolation", "--target", str(site), str(source)]
    subprocess.run(pip, check=True, capture_output=True)
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(PROJECT_DIR)])}
    ran = subprocess.run(
        [BIN / "tooljobs", "local-tools", "run", "word-count", "--input", "text=one two"],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["outputs"] == {"words": 2}


def test_the_guides_inputs_that_opt_out_keep_unknown_keys() -> None:
    from app.tools.inputs import validate_inputs

    tagged = guide_namespace()["TaggedTextInputs"]
    kept = validate_inputs(tagged, {"text": "x", "tag": "y"})
    assert kept.model_dump() == {"text": "x", "tag": "y"}


def test_the_guides_tools_pass_the_checks_the_registry_runs() -> None:
    from app.tools.checks import problems

    namespace = guide_namespace()
    tools = [v for v in namespace.values() if isinstance(v, type) and issubclass(v, Tool)]
    broken = {tool.__name__: problems(tool) for tool in tools if hasattr(tool, "name")}
    assert len(broken) >= 5
    assert not any(broken.values()), broken
