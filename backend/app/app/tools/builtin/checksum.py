"""`checksum`: the digest of an uploaded file."""

import hashlib
from typing import Literal

from pydantic import BaseModel

from app.tools.base import Tool
from app.tools.context import JobContext
from app.tools.files import FileRef

CHUNK_BYTES = 1024 * 1024


class ChecksumInputs(BaseModel):
    file: FileRef
    algorithm: Literal["sha256", "sha1", "md5", "blake2b"] = "sha256"


class ChecksumOutputs(BaseModel):
    algorithm: str
    hexdigest: str
    size: int


class Checksum(Tool[ChecksumInputs, ChecksumOutputs]):
    name = "checksum"
    version = "1.0.0"
    title = "Checksum"
    description = "Computes a file's digest (sha256, sha1, md5 or blake2b)."

    def run(self, inputs: ChecksumInputs, ctx: JobContext) -> ChecksumOutputs:
        source = ctx.input_file(inputs.file)
        digest = hashlib.new(inputs.algorithm)
        done = 0
        with source.path.open("rb") as stream:
            while chunk := stream.read(CHUNK_BYTES):
                digest.update(chunk)
                done += len(chunk)
                ctx.progress(done / source.size if source.size else 1.0)
        return ChecksumOutputs(algorithm=inputs.algorithm, hexdigest=digest.hexdigest(), size=done)
