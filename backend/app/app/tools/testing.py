"""Run a tool in-process with a real JobContext: for tool authors' unit tests and for
`tooljobs local-tools run`. No queue, database or Redis is involved."""

import hashlib
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from app.tools.base import AnyTool, Tool
from app.tools.context import ArtifactInfo, InputFile, JobContext, guess_content_type
from app.tools.files import file_refs
from app.tools.inputs import validate_inputs
from app.tools.registry import get_tool


@dataclass
class LocalRuntime:
    """Keeps what a tool reports in lists, and its artifacts in a folder."""

    artifacts_dir: Path
    progress: list[tuple[float, str | None]] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    files: dict[uuid.UUID, InputFile] = field(default_factory=dict)
    cancel_requested: bool = False

    def report_progress(self, fraction: float, message: str | None) -> None:
        self.progress.append((fraction, message))

    def write_log(self, line: str) -> None:
        self.logs.append(line)

    def is_cancelled(self) -> bool:
        return self.cancel_requested

    def input_file(self, file_id: uuid.UUID) -> InputFile:
        return self.files[file_id]

    def store_artifact(self, path: Path, name: str, content_type: str) -> ArtifactInfo:
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        kept = shutil.copyfile(path, self.artifacts_dir / name)
        return ArtifactInfo(
            name=name, size=kept.stat().st_size, sha256=_sha256(kept), content_type=content_type
        )


@dataclass
class ToolRun:
    """What one run gave: its validated outputs, its progress reports, its log lines
    (`ctx.log`'s, and a program's `[stdout] ` and `[stderr] ` lines) and its artifacts."""

    outputs: Any
    progress: list[tuple[float, str | None]]
    logs: list[str]
    artifacts: dict[str, Path]


class ToolRunner:
    """`runner.add_file(path)` gives a FileRef id; `runner.run(tool, inputs)` runs the tool."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._files: dict[uuid.UUID, InputFile] = {}

    def add_file(self, path: Path, content_type: str | None = None) -> uuid.UUID:
        file_id = uuid.uuid4()
        self._files[file_id] = InputFile(
            path=path,
            name=path.name,
            size=path.stat().st_size,
            sha256=_sha256(path),
            content_type=content_type or guess_content_type(path.name),
        )
        return file_id

    def run(self, tool: AnyTool | str, inputs: dict[str, Any] | BaseModel) -> ToolRun:
        tool_class = get_tool(tool) if isinstance(tool, str) else tool
        valid_inputs = validate_inputs(
            tool_class.inputs_model,
            inputs.model_dump() if isinstance(inputs, BaseModel) else inputs,
        )
        for location, file_id in file_refs(valid_inputs):
            if file_id not in self._files:
                raise KeyError(f"{location}: add the file with add_file first")
        job_id = uuid.uuid4()
        workdir = self.folder / str(job_id) / "work"
        workdir.mkdir(parents=True)
        runtime = LocalRuntime(self.folder / str(job_id) / "artifacts", files=self._files)
        ctx = JobContext(job_id, workdir, runtime)
        tool_instance: Tool[Any, Any] = tool_class()
        result = tool_instance.run(valid_inputs, ctx)
        outputs = tool_class.outputs_model.model_validate(result, from_attributes=True)
        return ToolRun(
            outputs=outputs,
            progress=runtime.progress,
            logs=runtime.logs,
            artifacts={name: runtime.artifacts_dir / name for name in ctx.artifacts},
        )


def _sha256(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()
