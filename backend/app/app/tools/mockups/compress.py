"""The twin of `compress` without the gzip program: Python's gzip module, same outputs."""

import gzip
import shutil

from app.tools.builtin.compress import Compress, CompressInputs, CompressOutputs
from app.tools.context import JobContext


class CompressMockup(Compress):
    is_mockup = True

    def run(self, inputs: CompressInputs, ctx: JobContext) -> CompressOutputs:
        source = ctx.input_file(inputs.file)
        target = ctx.workdir / f"{source.name}.gz"
        with source.path.open("rb") as plain, gzip.open(target, "wb", inputs.level) as packed:
            shutil.copyfileobj(plain, packed)
        artifact = ctx.add_artifact(target)
        return CompressOutputs(artifact=artifact.name, size_in=source.size, size_out=artifact.size)
