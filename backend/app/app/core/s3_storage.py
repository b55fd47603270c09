"""The S3-compatible storage backend (AWS S3, MinIO, Ceph, ...), through boto3.

Writes stream in parts: memory holds one part at a time whatever the size, the sha256
and the size limit are computed on the way, and an object appears only whole (one PUT
for small content, a multipart upload completed at the end for large content; aborted,
so nothing is left, when the limit is passed or anything fails).
"""

import hashlib
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from app.core.stored_objects import ObjectTooLarge, StorageUnavailable, StoredObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef, ObjectIdentifierTypeDef

# S3 refuses parts under 5 MiB but the last; one part is what a write holds in memory.
PART_BYTES = 8 * 1024 * 1024
# DeleteObjects takes at most this many keys, and a listing page holds at most as many.
DELETE_BATCH = 1000


def s3_client(endpoint_url: str | None) -> "S3Client":
    """A client with the standard AWS credential chain (variables, files, roles)."""
    # Signature version 4 for presigned URLs too, as every S3-compatible server takes it:
    # botocore may otherwise presign with the older version 2 that some refuse.
    config = Config(
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=5,
        signature_version="s3v4",
    )
    return boto3.client("s3", endpoint_url=endpoint_url, config=config)


def is_unreachable(error: Exception) -> bool:
    """The store could not be reached or answered that it cannot serve now."""
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return status >= 500
    return isinstance(error, BotoCoreError)


@contextmanager
def reaching_store() -> Iterator[None]:
    try:
        yield
    except (BotoCoreError, ClientError) as error:
        if is_unreachable(error):
            raise StorageUnavailable(type(error).__name__) from error
        raise


class S3Storage:
    def __init__(
        self,
        client: "S3Client",
        bucket: str,
        prefix: str = "",
        *,
        signer: "S3Client | None" = None,
    ) -> None:
        self.client = client
        # Presigns download URLs: a client of the endpoint as clients reach it.
        self.signer = signer or client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def _key(self, key: str) -> str:
        # The same keys as the local backend accepts: relative, and never climbing.
        path = PurePosixPath(key)
        if not key or path.is_absolute() or ".." in path.parts or not path.parts:
            raise ValueError(f"storage key {key!r} leaves the storage root")
        return f"{self.prefix}/{path}" if self.prefix else str(path)

    def write(
        self, key: str, chunks: Iterable[bytes], *, max_bytes: int | None = None
    ) -> StoredObject:
        object_key = self._key(key)
        digest = hashlib.sha256()
        size = 0
        part = bytearray()
        upload_id: str | None = None
        parts: list[CompletedPartTypeDef] = []
        with reaching_store():
            try:
                for chunk in chunks:
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise ObjectTooLarge(f"more than {max_bytes} bytes")
                    digest.update(chunk)
                    part += chunk
                    if len(part) >= PART_BYTES:
                        if upload_id is None:
                            upload_id = self.client.create_multipart_upload(
                                Bucket=self.bucket, Key=object_key
                            )["UploadId"]
                        parts.append(self._upload_part(object_key, upload_id, len(parts), part))
                        part = bytearray()
                if upload_id is None:
                    self.client.put_object(Bucket=self.bucket, Key=object_key, Body=bytes(part))
                else:
                    if part:
                        parts.append(self._upload_part(object_key, upload_id, len(parts), part))
                    self.client.complete_multipart_upload(
                        Bucket=self.bucket,
                        Key=object_key,
                        UploadId=upload_id,
                        MultipartUpload={"Parts": parts},
                    )
            except BaseException:
                if upload_id is not None:
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=object_key, UploadId=upload_id
                    )
                raise
        return StoredObject(size=size, sha256=digest.hexdigest())

    def _upload_part(
        self, object_key: str, upload_id: str, index: int, content: bytearray
    ) -> "CompletedPartTypeDef":
        number = index + 1
        answer = self.client.upload_part(
            Bucket=self.bucket,
            Key=object_key,
            UploadId=upload_id,
            PartNumber=number,
            Body=bytes(content),
        )
        return {"PartNumber": number, "ETag": answer["ETag"]}

    def open(self, key: str) -> BinaryIO:
        with reaching_store():
            try:
                answer = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            except self.client.exceptions.NoSuchKey:
                raise FileNotFoundError(key) from None
        # botocore's StreamingBody is a readable io stream, read as it comes.
        return cast(BinaryIO, answer["Body"])

    @contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="tooljobs-staged-") as folder:
            path = Path(folder) / PurePosixPath(key).name
            with self.open(key) as stream, path.open("wb") as out, reaching_store():
                while chunk := stream.read(PART_BYTES):
                    out.write(chunk)
            yield path

    def delete(self, key: str) -> None:
        object_key = self._key(key)
        with reaching_store():
            self.client.delete_object(Bucket=self.bucket, Key=object_key)
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket,
                Prefix=f"{object_key}/",
                PaginationConfig={"PageSize": DELETE_BATCH},
            )
            for page in pages:
                keys: list[ObjectIdentifierTypeDef] = [
                    {"Key": item["Key"]} for item in page.get("Contents", [])
                ]
                if keys:
                    self.client.delete_objects(
                        Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True}
                    )

    def presigned_url(
        self, key: str, *, seconds: int, content_type: str, content_disposition: str
    ) -> str:
        # Signed here, without a request to the store: a missing object is the store's
        # own 404 to the client that follows the URL.
        with reaching_store():
            return self.signer.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self.bucket,
                    "Key": self._key(key),
                    "ResponseContentType": content_type,
                    "ResponseContentDisposition": content_disposition,
                },
                ExpiresIn=seconds,
            )
