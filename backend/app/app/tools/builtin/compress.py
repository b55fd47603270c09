"""`compress`: gzip an uploaded file with the `gzip` program (a CommandLineTool)."""

from typing import Annotated

from pydantic import BaseModel, Field

from app.tools.command_line import CommandLineTool, CompletedProgram, Stdout
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
    argv = ("gzip", "--stdout", "-{level}", "--", "{file}")
    stdout = Stdout(artifact="{file.name}.gz")

    def outputs(
        self, inputs: CompressInputs, ctx: JobContext, program: CompletedProgram
    ) -> CompressOutputs:
        (artifact,) = ctx.artifacts.values()
        size_in = ctx.input_file(inputs.file).size
        return CompressOutputs(artifact=artifact.name, size_in=size_in, size_out=artifact.size)
