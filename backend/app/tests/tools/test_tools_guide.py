"""TOOLS.md's code runs as written: its Python blocks in order, then the tests they define."""

import re
import sys
import tomllib
import types
from pathlib import Path
from typing import Any

import pytest

from app.tools.base import Tool
from app.tools.registry import ENTRY_POINT_GROUP
from tests.support.paths import REPO_ROOT

GUIDE = (REPO_ROOT / "TOOLS.md").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", GUIDE, flags=re.DOTALL)


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


def test_the_guides_mockup_gives_what_its_tool_gives(tmp_path: Path) -> None:
    from app.tools.testing import ToolRunner

    namespace = guide_namespace()
    words = tmp_path / "words.txt"
    words.write_text("b\na\nc\n")
    results = []
    for tool in (namespace["SortLines"], namespace["SortLinesMockup"]):
        runner = ToolRunner(tmp_path / tool.__name__)
        run = runner.run(tool, {"file": runner.add_file(words)})
        results.append((run.outputs, run.artifacts["sorted.txt"].read_text()))
    assert results[0] == results[1]


def test_the_guides_entry_point_uses_the_registrys_group() -> None:
    (project,) = blocks("toml")
    assert ENTRY_POINT_GROUP in tomllib.loads(project)["project"]["entry-points"]


def test_the_guides_inputs_that_opt_out_keep_unknown_keys() -> None:
    from app.tools.inputs import validate_inputs

    tagged = guide_namespace()["TaggedTextInputs"]
    kept = validate_inputs(tagged, {"text": "x", "tag": "y"})
    assert kept.model_dump() == {"text": "x", "tag": "y"}
