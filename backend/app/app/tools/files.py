"""`FileRef`: how a tool's inputs refer to an uploaded file (by its id)."""

import uuid
from collections.abc import Iterator
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field


class FileId(uuid.UUID):
    """A UUID that names an uploaded file, so the files of any inputs can be found."""


FileRef = Annotated[
    uuid.UUID,
    AfterValidator(lambda value: FileId(str(value))),
    Field(description="The id of a file uploaded with POST /api/v1/files."),
]


def file_refs(
    value: object, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], FileId]]:
    """Every FileRef in validated inputs, with where it is (for error locations)."""
    if isinstance(value, FileId):
        yield path, value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from file_refs(getattr(value, name), (*path, name))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from file_refs(item, (*path, key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from file_refs(item, (*path, index))
