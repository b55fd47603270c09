"""The file part of a multipart/form-data body, read as the body arrives.

python-multipart's push parser (the one Starlette's own form parsing uses, so no new
dependency) is fed each chunk of the body as it comes and calls back with the parts'
headers and bytes; the file part's bytes are handed on at once, so neither memory nor
a temporary file ever holds the body. The parts around it are read and dropped.
"""

from collections.abc import Iterator
from dataclasses import dataclass

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from app.api.body_limits import MULTIPART_OVERHEAD_BYTES
from app.services.errors import InvalidInput, TooLarge
from app.services.use_cases.files import too_large_detail


@dataclass(frozen=True)
class FilePart:
    # As the client sent them; the files service makes them plain.
    file_name: str | None
    content_type: str | None
    chunks: Iterator[bytes]


def file_part(body: Iterator[bytes], content_type: str, field: str, max_bytes: int) -> FilePart:
    """The part named `field` of a multipart body, once its headers have arrived; its
    chunks end only when the whole body has arrived well formed (InvalidInput else)."""
    media, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if media != b"multipart/form-data" or not boundary:
        raise _invalid(
            field, f"send the file as the part `{field}` of a multipart/form-data body", "missing"
        )
    reader = _MultipartReader(body, boundary, field, max_bytes)
    while reader.found is None:
        if not reader.read():
            raise _invalid(field, f"the multipart body has no part `{field}`", "missing")
    file_name, part_type = reader.found
    return FilePart(file_name, part_type, reader.content())


def _invalid(field: str, message: str, error_type: str) -> InvalidInput:
    return InvalidInput.at((field,), message, error_type)


class _MultipartReader:
    """Feeds the parser one chunk of the body at a time; keeps only the wanted part's
    bytes of the last chunk, and the headers of the part being read."""

    def __init__(self, body: Iterator[bytes], boundary: bytes, field: str, max_bytes: int) -> None:
        self.body = body
        self.field = field
        self.max_bytes = max_bytes
        self.received = 0
        try:
            self.parser = MultipartParser(
                boundary,
                {
                    "on_part_begin": self._on_part_begin,
                    "on_header_field": self._on_header_field,
                    "on_header_value": self._on_header_value,
                    "on_header_end": self._on_header_end,
                    "on_headers_finished": self._on_headers_finished,
                    "on_part_data": self._on_part_data,
                    "on_part_end": self._on_part_end,
                    "on_end": self._on_end,
                },
            )
        except FormParserError as error:  # a boundary longer than RFC 2046 allows
            raise _invalid(field, str(error), "multipart_invalid") from None
        self.header_name = b""
        self.header_value = b""
        self.headers: dict[bytes, bytes] = {}
        # (file name, content type) once the wanted part's headers are in.
        self.found: tuple[str | None, str | None] | None = None
        self.in_wanted_part = False
        self.ended = False
        self.pending: list[bytes] = []

    def read(self) -> bool:
        """Parse the next chunk of the body; False when there was none left."""
        chunk = next(self.body, None)
        if chunk is None:
            return False
        self.received += len(chunk)
        if self.received > self.max_bytes + MULTIPART_OVERHEAD_BYTES:
            # The file itself is counted by storage; this bounds the parts around it too.
            raise TooLarge(too_large_detail(self.max_bytes))
        try:
            self.parser.write(chunk)
        except FormParserError as error:
            message = f"not a valid multipart body: {error}"
            raise _invalid(self.field, message, "multipart_invalid") from None
        return True

    def content(self) -> Iterator[bytes]:
        while True:
            yield from self.pending
            self.pending.clear()
            if self.ended:
                return
            if not self.read():
                # A client that left mid-body, or a body cut short: not the whole file.
                raise _invalid(
                    self.field,
                    "the multipart body ends before its closing boundary",
                    "multipart_invalid",
                )

    def _on_part_begin(self) -> None:
        self.headers = {}

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def _on_header_end(self) -> None:
        self.headers[self.header_name.lower()] = self.header_value
        self.header_name = self.header_value = b""

    def _on_headers_finished(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition"))
        # The first part of that name is the file; any later one is dropped.
        if self.found is None and options.get(b"name") == self.field.encode():
            file_name = options.get(b"filename")
            content_type = self.headers.get(b"content-type")
            self.found = (
                None if file_name is None else file_name.decode(errors="replace"),
                None if content_type is None else content_type.decode("latin-1"),
            )
            self.in_wanted_part = True

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.in_wanted_part:
            self.pending.append(data[start:end])

    def _on_part_end(self) -> None:
        self.in_wanted_part = False

    def _on_end(self) -> None:
        self.ended = True
