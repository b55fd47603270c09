"""Where uploaded files and job artifacts live: one small interface, a local backend.

Keys are relative paths (`files/<id>`, `jobs/<id>/artifacts/<name>`) built by the
services from ids and validated names; the backend refuses any key that would leave
its root all the same. `STORAGE_URL` chooses the backend: this local one, or the
S3-compatible one of app.core.s3_storage; tools never see either.
"""

import hashlib
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from app.core.config import settings
from app.core.stored_objects import ObjectTooLarge, Storage, StoredObject

CHUNK_BYTES = 1024 * 1024


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if path == self.root or not path.is_relative_to(self.root):
            raise ValueError(f"storage key {key!r} leaves the storage root")
        return path

    def write(
        self, key: str, chunks: Iterable[bytes], *, max_bytes: int | None = None
    ) -> StoredObject:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        digest = hashlib.sha256()
        size = 0
        try:
            with partial.open("wb") as out:
                for chunk in chunks:
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise ObjectTooLarge(f"more than {max_bytes} bytes")
                    digest.update(chunk)
                    out.write(chunk)
            # Readers never see a half-written object.
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
        return StoredObject(size=size, sha256=digest.hexdigest())

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    @contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(key)
        yield path

    def delete(self, key: str) -> None:
        path = self._path(key)
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)

    def presigned_url(
        self, key: str, *, seconds: int, content_type: str, content_disposition: str
    ) -> None:
        # Nothing but this process can serve a local file.
        return None


def read_chunks(stream: BinaryIO) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK_BYTES):
        yield chunk


@cache
def storage() -> Storage:
    return storage_at(
        settings.STORAGE_URL,
        settings.STORAGE_S3_ENDPOINT_URL,
        settings.STORAGE_S3_PUBLIC_ENDPOINT_URL,
    )


def storage_at(
    url: str | None,
    s3_endpoint_url: str | None = None,
    s3_public_endpoint_url: str | None = None,
) -> Storage:
    """The backend of a STORAGE_URL; without one, the local STORAGE_DIR as always. S3
    presigned URLs lead to `s3_public_endpoint_url` when given, else to the endpoint."""
    if url is None:
        return LocalStorage(settings.storage_dir)
    parts = urlsplit(url)
    if parts.scheme == "file":
        return LocalStorage(Path(unquote(parts.path)))
    # Imported here: boto3 costs every process that stores locally a third of a second
    # at start.
    from app.core.s3_storage import S3Storage, s3_client

    client = s3_client(s3_endpoint_url)
    signer = s3_client(s3_public_endpoint_url) if s3_public_endpoint_url else client
    return S3Storage(client, parts.netloc, parts.path, signer=signer)
