"""`compress`: gzip an uploaded file with the `gzip` program (a CommandLineTool)."""

import shutil
from typing import Annotated, Any

from pydantic import BaseModel, Field

from app.tools.command_line import CommandLineTool, CompletedProgram
from app.tools.context import JobContext
from app.tools.files import FileRef


class CompressInputs(BaseModel):
    file: FileRef
    level: Annotated[int, Field(ge=1, le=9)] = 6


class CompressOutputs(BaseModel):
    artifact: str
    size_in: int
    size_out: int


class Compress(CommandLineTool[CompressInputs, CompressOutputs]):
    name = "compress"
    version = "1.0.0"
    title = "Compress"
    description = "Compresses a file with gzip; the result is the artifact `<name>.gz`."
    time_limit_seconds = 3600
    argv = ("gzip", "-{level}", "--", "{local_copy}")
    artifact_globs = ("*.gz",)

    def template_values(self, inputs: CompressInputs, ctx: JobContext) -> dict[str, Any]:
        # gzip replaces the file it compresses: give it a copy in the job's own folder.
        source = ctx.input_file(inputs.file)
        local_copy = shutil.copyfile(source.path, ctx.workdir / source.name)
        return {**super().template_values(inputs, ctx), "local_copy": local_copy}

    def outputs(
        self, inputs: CompressInputs, ctx: JobContext, program: CompletedProgram
    ) -> CompressOutputs:
        source = ctx.input_file(inputs.file)
        artifact = ctx.artifacts[f"{source.name}.gz"]
        return CompressOutputs(artifact=artifact.name, size_in=source.size, size_out=artifact.size)
