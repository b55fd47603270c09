"""`FileRef`: how a tool's inputs refer to an uploaded file (by its id)."""

import types
import uuid
from collections.abc import Iterator
from typing import Annotated, Union, get_args, get_origin

from pydantic import AfterValidator, BaseModel, Field


class FileId(uuid.UUID):
    """A UUID that names an uploaded file, so the files of any inputs can be found."""


_AS_FILE_ID = AfterValidator(lambda value: FileId(str(value)))

FileRef = Annotated[
    uuid.UUID,
    _AS_FILE_ID,
    Field(description="The id of a file uploaded with POST /api/v1/files."),
]


def file_fields(model: type[BaseModel]) -> set[str]:
    """The inputs that are files (a FileRef, or a list or optional of them), by name."""
    return {
        name
        for name, field in model.model_fields.items()
        if _AS_FILE_ID in field.metadata or any(map(_is_file_ref, get_args(field.annotation)))
    }


def _is_file_ref(annotation: object) -> bool:
    if _AS_FILE_ID in getattr(annotation, "__metadata__", ()):
        return True
    if get_origin(annotation) in (list, Union, types.UnionType):
        return any(map(_is_file_ref, get_args(annotation)))
    return False


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
