"""An execute request's inputs as the tool's inputs.

The standard lets a client send each input as a literal, a qualified value
(`{"value": ..., "mediaType": ...}`) or a reference (`{"href": ...}`). A tool's file
input takes a file id: a reference to one of our files (`.../api/v1/files/{id}`) is that
id, and other references and inline bytes (base64) become an upload of the submitter
first. Every other URL is fetched under the outbound policy of webhooks. What cannot be
read is an InvalidInput naming the input."""

import base64
import binascii
import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from app.core import outbound
from app.core.config import settings
from app.schemas.user import Principal
from app.services.errors import InvalidInput
from app.services.use_cases import files as file_service
from app.tools.base import AnyTool
from app.tools.files import file_fields

QUALIFIED_KEYS = frozenset({"value", "mediaType", "encoding", "schema"})
LINK_KEYS = frozenset({"href", "rel", "type", "hreflang", "title"})
_OWN_FILE_PATH = re.compile(
    rf"{re.escape(settings.API_V1_STR)}/files/(?P<id>[0-9a-fA-F-]{{36}})(?:/content)?/?"
)


@contextmanager
def tool_inputs(
    session: Session, owner: Principal, tool: AnyTool, inputs: dict[str, object], origin: str
) -> Iterator[dict[str, object]]:
    """The inputs as the tool takes them, for the block that queues the job. `origin`
    (scheme://host[:port]) is this server as the client reached it: a reference there is
    to one of our files, not a URL to fetch. References and inline bytes of file inputs
    become uploads of the owner's; when anything fails before the job is queued
    (another input, the tool's validation, the queue), they are deleted again, so that a
    refused request leaves no file behind."""
    uploaded: list[uuid.UUID] = []
    try:
        yield _resolved(_FileInputs(session, owner, origin, uploaded), tool, inputs)
    except BaseException:
        session.rollback()
        for file_id in uploaded:
            file_service.delete_file(session, owner, file_id)
        raise


def _resolved(files: "_FileInputs", tool: AnyTool, inputs: dict[str, object]) -> dict[str, object]:
    file_names = file_fields(tool.inputs_model)
    resolved: dict[str, object] = {}
    for name, value in inputs.items():
        if name in file_names:
            resolved[name] = (
                [files.file_id(v, name) for v in value]
                if isinstance(value, list)
                else files.file_id(value, name)
            )
        else:
            resolved[name] = _literal(value, name)
    return resolved


def _literal(value: object, name: str) -> object:
    if _is_qualified(value):
        assert isinstance(value, dict)
        return value["value"]
    if _is_link(value):
        assert isinstance(value, dict)
        body, content_type = _fetch(str(value["href"]), name)
        if "json" in content_type:
            try:
                return json.loads(body)
            except ValueError:
                raise _invalid(
                    name, "the reference's content is not JSON", "invalid_reference"
                ) from None
        return body.decode(errors="replace")
    return value


class _FileInputs:
    """Reads file inputs into file ids, noting the uploads it makes in `uploaded`."""

    def __init__(
        self, session: Session, owner: Principal, origin: str, uploaded: list[uuid.UUID]
    ) -> None:
        self.session, self.owner, self.origin, self.uploaded = session, owner, origin, uploaded

    def file_id(self, value: object, name: str) -> object:
        if _is_link(value):
            assert isinstance(value, dict)
            href = str(value["href"])
            own = self._own_file(href)
            if own is not None:
                return own
            body, content_type = _fetch(href, name)
            file_name = urlsplit(href).path.rsplit("/", 1)[-1] or None
            return self._upload(body, file_name, content_type)
        if _is_qualified(value):
            assert isinstance(value, dict)
            media_type = value.get("mediaType")
            return self._upload(
                _base64(value["value"], name),
                None,
                media_type if isinstance(media_type, str) else None,
            )
        if isinstance(value, str):
            try:
                return str(uuid.UUID(value))
            except ValueError:
                return self._upload(_base64(value, name), None, None)
        # Anything else: the tool's own validation names what is wrong with it.
        return value

    def _own_file(self, href: str) -> str | None:
        parts = urlsplit(href)
        if parts.scheme and f"{parts.scheme}://{parts.netloc}" != self.origin:
            return None
        found = _OWN_FILE_PATH.fullmatch(parts.path)
        return None if found is None else found["id"]

    def _upload(self, body: bytes, name: str | None, content_type: str | None) -> str:
        stored = file_service.upload(
            self.session, self.owner, name=name, content_type=content_type, chunks=[body]
        )
        self.uploaded.append(stored.id)
        return str(stored.id)


def _fetch(url: str, name: str) -> tuple[bytes, str]:
    try:
        answer = outbound.send("GET", url)
    except outbound.OutboundRefused as refused:
        raise _invalid(name, str(refused), "url_not_allowed") from None
    except outbound.OutboundUnreachable as unreachable:
        message = f"could not fetch the reference: {unreachable}"
        raise _invalid(name, message, "invalid_reference") from None
    if not answer.is_success:
        raise _invalid(
            name, f"fetching the reference answered {answer.status_code}", "invalid_reference"
        )
    if answer.truncated:
        raise _invalid(
            name,
            f"the reference is larger than OUTBOUND_MAX_RESPONSE_BYTES "
            f"({settings.OUTBOUND_MAX_RESPONSE_BYTES}); upload it with POST "
            f"{settings.API_V1_STR}/files and refer to that",
            "reference_too_large",
        )
    return answer.body, answer.content_type


def _base64(value: object, name: str) -> bytes:
    if not isinstance(value, str):
        raise _invalid(name, "a file's inline value is its bytes in base64", "invalid_file_value")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid(
            name,
            'neither a file id, a reference nor base64: give {"href": ...} or the bytes in base64',
            "invalid_file_value",
        ) from None


def _is_qualified(value: object) -> bool:
    return isinstance(value, dict) and "value" in value and value.keys() <= QUALIFIED_KEYS


def _is_link(value: object) -> bool:
    return (
        isinstance(value, dict) and isinstance(value.get("href"), str) and value.keys() <= LINK_KEYS
    )


def _invalid(name: str, message: str, error_type: str) -> InvalidInput:
    return InvalidInput.at(("inputs", name), message, error_type)
