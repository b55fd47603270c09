"""The S3 server that the storage tests talk to, and what a process needs to reach it."""

from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# moto accepts any credentials; boto3 wants some, from the variables as in production.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test-access-key",
    "AWS_SECRET_ACCESS_KEY": "test-secret-key",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    port: int
    bucket: str

    def client(self, endpoint_url: str | None = None) -> "S3Client":
        return boto3.client(
            "s3",
            endpoint_url=endpoint_url or self.endpoint_url,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
        )

    def keys(self, prefix: str) -> list[str]:
        pages = (
            self.client()
            .get_paginator("list_objects_v2")
            .paginate(Bucket=self.bucket, Prefix=prefix)
        )
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def uploads_in_progress(self, prefix: str) -> list[str]:
        answer = self.client().list_multipart_uploads(Bucket=self.bucket, Prefix=prefix)
        return [upload["Key"] for upload in answer.get("Uploads", [])]

    def environment(self, prefix: str, endpoint_url: str | None = None) -> dict[str, str]:
        """The settings of an API or worker process that stores under `prefix`."""
        return {
            **CREDENTIALS,
            "STORAGE_URL": f"s3://{self.bucket}/{prefix}",
            "STORAGE_S3_ENDPOINT_URL": endpoint_url or self.endpoint_url,
        }
