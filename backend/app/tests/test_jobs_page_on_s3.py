"""The jobs page on S3 storage: a download answers 307 to a presigned URL of the store,
another origin, which the page's CSP names; the page's fetch follows it. (A module of
its own: its worker must be the only one on the broker, the other module's stores
files locally.)"""

import uuid
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Request

from app.api.security_headers import page_policy
from tests.support.jobs_page import compress_and_download, open_page, stack
from tests.support.s3 import S3Server


def test_an_artifact_on_s3_is_downloaded_through_the_redirect(
    database: None, browser: Browser, s3_server: S3Server, tmp_path: Path
) -> None:
    with stack(s3_server.environment(f"jobs-page-{uuid.uuid4().hex}"), tmp_path) as api:
        answer = httpx.get(api.removesuffix("/api/v1") + "/")
        assert answer.headers["content-security-policy"] == page_policy(s3_server.endpoint_url)
        with open_page(browser, api) as page:
            # The token goes to the API, never on to the store.
            sent: dict[str, list[dict[str, str]]] = {"api": [], "store": []}

            def record(request: Request) -> None:
                if "/artifacts/" in request.url:
                    to = "store" if request.url.startswith(s3_server.endpoint_url) else "api"
                    sent[to].append(request.all_headers())

            page.on("request", record)
            compress_and_download(page, tmp_path)
        assert [len(sent["api"]), len(sent["store"])] == [1, 1]
        assert "authorization" in sent["api"][0]
        assert "authorization" not in sent["store"][0]
