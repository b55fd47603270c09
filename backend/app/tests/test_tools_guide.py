"""TOOLS.md's example tool and its test run as written."""

import re
from pathlib import Path
from typing import Any

import pytest

from app.tools.base import Tool, ToolError
from app.tools.context import JobContext
from tests.conftest import REPO_ROOT


def guide_blocks() -> list[str]:
    guide = (REPO_ROOT / "TOOLS.md").read_text()
    return re.findall(r"```python\n(.*?)```", guide, flags=re.DOTALL)


def load_guide() -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    for block in guide_blocks():
        exec(compile(block, "TOOLS.md", "exec"), namespace)
    return namespace


def test_the_guide_has_a_tool_and_its_test() -> None:
    assert len(guide_blocks()) == 2


def test_the_guides_example_test_passes(tmp_path: Path) -> None:
    load_guide()["test_word_count"](tmp_path)


def test_the_guides_tool_is_a_tool_with_schemas(tmp_path: Path) -> None:
    word_count = load_guide()["WordCount"]
    assert issubclass(word_count, Tool)
    assert word_count.name == "word-count"
    assert "text" in word_count.inputs_model.model_json_schema()["properties"]
    ctx = JobContext("test", tmp_path, lambda fraction, message: None)
    with pytest.raises(ToolError, match="empty"):
        word_count().run(word_count.inputs_model(text="  "), ctx)
