"""The jobs page (frontend-placeholder/) in a real headless Chromium, driven by
Playwright, against a real API process (which serves the page, with its CSP) and a real
worker: what a person does, with the mouse and the keyboard.

Chromium is Debian's package (`make services` installs it); Playwright's own browser
downloads are never used. Every wait is Playwright's auto-waiting `expect`.
"""

import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import pytest
from playwright.sync_api import Browser, Page, expect

from app.api.security_headers import PAGE_POLICY
from app.core.config import settings
from app.core.security import JWT_ALGORITHM, user_id_from_token
from tests.support.jobs_page import (
    PASSWORD,
    choose_tool,
    compress_and_download,
    job_row,
    open_page,
    sign_in,
    stack,
    submit,
    submitted_job_id,
)
from tests.support.paths import REPO_ROOT
from tests.support.ports import free_port
from tests.support.processes import answers, stop
from tests.support.users import auth, make_user
from tests.support.waiting import wait_until


@pytest.fixture(scope="module")
def api(database: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with stack({}, tmp_path_factory.mktemp("jobs-page")) as url:
        yield url


@pytest.fixture
def page(browser: Browser, api: str) -> Iterator[Page]:
    with open_page(browser, api) as tab:
        yield tab


def test_sign_in_submit_echo_and_watch_it_succeed(page: Page) -> None:
    make_user("alice@example.com")
    sign_in(page, "alice@example.com")
    choose_tool(page, "echo")
    page.get_by_label("Message").fill("hello from the browser")
    page.get_by_label("Payload").fill('{"n": 1}')
    submit(page)
    job_id = submitted_job_id(page)

    # Live: the row changes without a reload, from the job's event stream.
    row = job_row(page)
    expect(row.get_by_role("cell").nth(2)).to_have_text("succeeded")
    expect(row.get_by_role("cell").nth(3)).to_have_text("100 %")
    row.get_by_role("link", name=f"Job {job_id}").click()
    expect(page.get_by_role("heading", name=f"Job {job_id}")).to_be_visible()
    expect(page.locator("#job-outputs")).to_contain_text('"message": "hello from the browser"')
    expect(page.locator("#job-inputs")).to_contain_text('"n": 1')


def test_the_form_follows_the_tools_input_schema(page: Page) -> None:
    make_user("alice@example.com")
    sign_in(page, "alice@example.com")
    choose_tool(page, "checksum")
    algorithm = page.get_by_label("Algorithm")
    expect(algorithm).to_have_js_property("tagName", "SELECT")  # an enum
    expect(algorithm.locator("option")).to_have_text(["sha256", "sha1", "md5", "blake2b"])
    expect(algorithm.locator("option:checked")).to_have_text("sha256")  # its default
    expect(page.get_by_label("File")).to_have_attribute("type", "file")
    expect(page.locator("label", has_text="File")).to_contain_text("(required)")

    choose_tool(page, "sleep")
    steps = page.get_by_label("Steps")
    expect(steps).to_have_attribute("type", "number")
    expect(steps).to_have_attribute("min", "1")
    expect(steps).to_have_attribute("max", "1000")
    expect(steps).to_have_value("10")

    choose_tool(page, "text-stats")  # optional inputs, one of them an optional file
    expect(page.get_by_label("File")).to_have_attribute("type", "file")
    expect(page.locator("#tool-fields label")).to_have_count(2)
    expect(page.locator("#tool-fields .required")).to_have_count(0)


def test_refused_inputs_are_shown_next_to_their_fields(page: Page) -> None:
    make_user("alice@example.com")
    sign_in(page, "alice@example.com")
    choose_tool(page, "sleep")
    seconds = page.get_by_label("Seconds")
    seconds.fill("5000")
    submit(page)
    expect(seconds).to_have_attribute("aria-invalid", "true")
    expect(seconds).to_be_focused()
    field = page.locator(".field", has=seconds)
    expect(field.locator(".error")).to_contain_text("less than or equal to 3600")
    expect(page.locator("#jobs-body tr")).to_have_count(0)


def test_a_file_is_uploaded_through_the_form_and_the_artifact_downloaded(
    page: Page, tmp_path: Path
) -> None:
    compress_and_download(page, tmp_path)


def test_more_unfinished_jobs_than_streams_all_end_on_the_list(page: Page, api: str) -> None:
    """Three are followed live; the others by reading the list again."""
    make_user("alice@example.com")
    sleeps = [{"tool": "sleep", "inputs": {"seconds": 1, "steps": 1}}] * 5
    submit_batch(api, alice_headers(api), sleeps)
    sign_in(page, "alice@example.com")
    rows = page.locator("#jobs-body tr")
    expect(rows).to_have_count(5)
    for index in range(5):
        expect(rows.nth(index).get_by_role("cell").nth(2)).to_have_text("succeeded")


def test_older_jobs_are_one_button_away(page: Page, api: str) -> None:
    make_user("alice@example.com")
    echoes = [{"tool": "echo", "inputs": {"message": str(n)}} for n in range(51)]
    submit_batch(api, alice_headers(api), echoes)
    sign_in(page, "alice@example.com")
    rows = page.locator("#jobs-body tr")
    expect(rows).to_have_count(50)
    older = page.get_by_role("button", name="Show older jobs")
    older.click()
    expect(rows).to_have_count(51)
    expect(older).to_be_hidden()


def submit_batch(api: str, headers: dict[str, str], jobs: list[dict[str, object]]) -> None:
    response = httpx.post(f"{api}/jobs/batch", headers=headers, json={"jobs": jobs})
    assert response.status_code == 202, response.text


def test_a_running_job_is_followed_and_cancelled(page: Page) -> None:
    make_user("alice@example.com")
    sign_in(page, "alice@example.com")
    choose_tool(page, "sleep")
    page.get_by_label("Seconds").fill("120")
    page.get_by_label("Steps").fill("120")
    submit(page)
    job_id = submitted_job_id(page)
    page.get_by_role("link", name=f"Job {job_id}").click()

    state = page.locator("#job-state")
    expect(state).to_have_text("running")
    expect(page.locator("#job-log")).to_contain_text("slept step 1")  # the live log
    expect(page.locator("#job-message")).to_contain_text("of 120")  # live progress
    expect(page.get_by_text("Listed once the job has ended.")).to_be_visible()
    page.get_by_role("button", name="Cancel job").click()
    expect(state).to_have_text("cancelled")
    expect(page.get_by_role("button", name="Cancel job")).to_be_hidden()
    expect(page.locator("#no-artifacts")).to_have_text("None.")  # read once it ended

    # Ended, it can be deleted: back to the list, without it.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete job").click()
    expect(page.get_by_role("heading", name="Your jobs")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text(f"Job {job_id} deleted")
    expect(page.get_by_text("No jobs yet")).to_be_visible()


def test_another_users_job_stays_invisible(page: Page, api: str) -> None:
    make_user("alice@example.com")
    others = submit_echo(api, auth(make_user("bob@example.com", password=None)))
    alices = submit_echo(api, alice_headers(api))
    sign_in(page, "alice@example.com")

    expect(page.locator(f'tr[data-job-id="{alices}"]')).to_be_visible()
    expect(page.locator("#jobs-body tr")).to_have_count(1)
    page.goto(f"/#/jobs/{others}")
    expect(page.get_by_role("heading", name="Job not found")).to_be_visible()
    expect(page.get_by_text("No such job, or not yours.")).to_be_visible()


def submit_echo(api: str, headers: dict[str, str]) -> str:
    response = httpx.post(
        f"{api}/jobs", headers=headers, json={"tool": "echo", "inputs": {"message": "m"}}
    )
    assert response.status_code == 202, response.text
    job_id: str = response.json()["id"]
    return job_id


def alice_headers(api: str) -> dict[str, str]:
    response = httpx.post(
        f"{api}/login/access-token", data={"username": "alice@example.com", "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return auth(response.json()["access_token"])


def test_an_expired_session_asks_to_sign_in_again(page: Page) -> None:
    token = make_user("alice@example.com")
    sign_in(page, "alice@example.com")
    user_id = user_id_from_token(token)
    expired = jwt.encode(
        {"sub": str(user_id), "exp": datetime.now(UTC) - timedelta(minutes=1)},
        settings.SECRET_KEY,
        algorithm=JWT_ALGORITHM,
    )
    page.evaluate("token => sessionStorage.setItem('tooljobs.token', token)", expired)
    choose_tool(page, "echo")
    page.get_by_label("Message").fill("too late")
    submit(page)

    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_text("Your session expired: sign in again.")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('tooljobs.token')") is None
    sign_in(page, "alice@example.com")
    expect(page.get_by_role("heading", name="Your jobs")).to_be_visible()


def test_an_unreachable_api_is_said_in_a_banner(page: Page) -> None:
    make_user("alice@example.com")
    sign_in(page, "alice@example.com")
    choose_tool(page, "echo")
    page.get_by_label("Message").fill("offline")
    page.context.set_offline(True)
    submit(page)
    banner = page.get_by_role("alert").filter(has_text="cannot be reached")
    expect(banner).to_be_visible()

    page.context.set_offline(False)
    submit(page)
    expect(job_row(page).get_by_role("cell").nth(2)).to_have_text("succeeded")
    expect(banner).to_be_hidden()


def test_the_page_is_usable_with_the_keyboard(page: Page) -> None:
    make_user("alice@example.com")
    # Signed in with the keyboard alone: the page puts the focus on the email field.
    expect(page.get_by_label("Email")).to_be_focused()
    page.keyboard.type("alice@example.com")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_text("Signed in as alice@example.com")).to_be_visible()

    # The view's content has the focus; before it, in order: sign out, the title's link
    # home, and first of all the skip link, which moves the focus back to the content.
    expect(page.locator("main")).to_be_focused()
    skip = page.get_by_role("link", name="Skip to content")
    for before in (
        page.get_by_role("button", name="Sign out"),
        page.get_by_role("link", name="tooljobs", exact=True),
        skip,
    ):
        page.keyboard.press("Shift+Tab")
        expect(before).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    expect(page.get_by_role("heading", name="Your jobs")).to_be_visible()

    # A job submitted with the keyboard: every control has its label.
    choose_tool(page, "echo")
    page.get_by_label("Tool", exact=True).focus()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Message")).to_be_focused()
    page.keyboard.type("typed")
    page.keyboard.press("Enter")  # in a text field, Enter submits the form
    expect(job_row(page).get_by_role("cell").nth(2)).to_have_text("succeeded")
    for control in page.locator("#tool-fields").locator("input, select, textarea").all():
        assert control.evaluate("element => element.labels.length") == 1

    page.get_by_role("button", name="Sign out").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_text("You signed out.")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_hidden()


@pytest.fixture
def nginx(api: str, tmp_path: Path) -> Iterator[str]:
    """Compose's `frontend` as a plain process: nginx with deploy/nginx/frontend.conf,
    on a free port, the page's folder as its root and the real API as `backend`."""
    executable = shutil.which("nginx") or "/usr/sbin/nginx"
    port = free_port()
    server = (
        (REPO_ROOT / "deploy" / "nginx" / "frontend.conf")
        .read_text()
        .replace("listen 80;", f"listen 127.0.0.1:{port};")
        .replace("root /usr/share/nginx/html;", f"root {REPO_ROOT / 'frontend-placeholder'};")
        .replace("http://backend:8000", api.removesuffix("/api/v1"))
    )
    temp = "".join(
        f"{kind}_temp_path {tmp_path / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (tmp_path / "nginx.conf").write_text(
        f"daemon off; pid {tmp_path / 'nginx.pid'}; error_log {tmp_path / 'error.log'};\n"
        "events {}\n"
        f"http {{ include /etc/nginx/mime.types; access_log off; {temp}\n{server}\n}}\n"
    )
    process = subprocess.Popen(
        [executable, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")]
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: answers(f"{url}/api/v1/health"), timeout=20, interval=0.1)
        yield url
    finally:
        stop(process)


def test_compose_frontend_serves_the_page_under_its_policy_and_the_api(
    browser: Browser, nginx: str
) -> None:
    make_user("alice@example.com")
    context = browser.new_context(base_url=nginx)
    tab = context.new_page()
    violations: list[str] = []
    tab.on("console", lambda message: violations.append(message.text))
    answer = tab.goto("/")
    assert answer is not None
    assert answer.headers["content-security-policy"] == PAGE_POLICY
    assert answer.headers["x-frame-options"] == "DENY"
    sign_in(tab, "alice@example.com")
    choose_tool(tab, "sleep")
    tab.get_by_label("Seconds").fill("4")
    tab.get_by_label("Steps").fill("2")
    submit(tab)
    # Through the proxy, unbuffered: a step's event arrives while the job runs.
    cells = job_row(tab).get_by_role("cell")
    expect(cells.nth(4)).to_have_text("step 1 of 2")
    expect(cells.nth(2)).to_have_text("running")
    expect(cells.nth(2)).to_have_text("succeeded")
    context.close()
    assert [text for text in violations if "Content Security Policy" in text] == []
