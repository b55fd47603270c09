"""The jobs page in a browser: the stacks it runs against, a tab on it, and what a
person does there (tests/test_jobs_page*.py)."""

import gzip
import hashlib
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, expect

from tests.support.processes import api_and_worker
from tests.support.users import make_user

PASSWORD = "password-123"  # make_user's
# A job's way from queued to an end passes through a worker on a busy machine.
expect.set_options(timeout=20_000)


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@contextmanager
def stack(env: dict[str, str], folder: Path) -> Iterator[str]:
    """A real API and worker with these settings; the API's base URL (`.../api/v1`).
    The page is served at its root."""
    with (
        (folder / "api.log").open("wb") as api_output,
        (folder / "worker.log").open("wb") as worker_output,
        api_and_worker(
            env, worker_loglevel="WARNING", api_output=api_output, worker_output=worker_output
        ) as url,
    ):
        yield url


@contextmanager
def open_page(browser: Browser, api: str) -> Iterator[Page]:
    """A fresh tab on the page; fails the test if the page broke its CSP or threw."""
    context = browser.new_context(base_url=api.removesuffix("/api/v1"), accept_downloads=True)
    tab = context.new_page()
    violations: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            violations.append(message.text)

    tab.on("console", watch)
    tab.on("pageerror", lambda error: violations.append(f"uncaught: {error}"))
    tab.goto("/")
    yield tab
    context.close()
    assert violations == []


def sign_in(page: Page, email: str) -> None:
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_text(f"Signed in as {email}")).to_be_visible()


def choose_tool(page: Page, name: str) -> None:
    page.get_by_label("Tool", exact=True).select_option(name)


def submit(page: Page) -> None:
    page.get_by_role("button", name="Submit").click()


def job_row(page: Page, index: int = 0) -> Locator:
    return page.locator("#jobs-body tr").nth(index)


def submitted_job_id(page: Page) -> str:
    # Each test's user starts without jobs: the first row is the one submitted.
    expect(job_row(page)).to_be_visible()
    job_id = job_row(page).get_attribute("data-job-id")
    assert job_id is not None
    return job_id


def compress_and_download(page: Page, tmp_path: Path) -> None:
    make_user("alice@example.com")
    original = b"".join(f"line {n} of a file to compress\n".encode() for n in range(5000))
    source = tmp_path / "lines.txt"
    source.write_bytes(original)
    sign_in(page, "alice@example.com")
    choose_tool(page, "compress")
    page.get_by_label("File").set_input_files(source)
    expect(page.get_by_label("Level")).to_have_value("6")  # the schema's default
    submit(page)
    job_id = submitted_job_id(page)
    expect(job_row(page).get_by_role("cell").nth(2)).to_have_text("succeeded")

    page.get_by_role("link", name=f"Job {job_id}").click()
    download_button = page.get_by_role("button", name="Download ")
    expect(download_button).to_have_count(1)
    with page.expect_download() as started:
        download_button.click()
    saved = Path(started.value.path()).read_bytes()
    assert gzip.decompress(saved) == original
    artifact = page.locator("#job-artifacts li")
    expect(artifact).to_contain_text(hashlib.sha256(saved).hexdigest())
    assert started.value.suggested_filename == download_button.inner_text().removeprefix(
        "Download "
    )
