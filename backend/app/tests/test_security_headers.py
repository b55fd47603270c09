"""Security headers on every answer, and CORS for the configured origins only."""

import re

from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from app.api.security_headers import (
    API_POLICY,
    DOCS_POLICY,
    PAGE_POLICY,
    SecurityHeaders,
    page_policy,
)
from app.core.config import settings
from app.main import FRONTEND_DIR
from tests.support.users import make_user

ALWAYS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}
UI = "http://ui.example.com"


def assert_hardened(headers: dict[str, str], policy: str = API_POLICY) -> None:
    assert {name: headers.get(name) for name in ALWAYS} == ALWAYS
    assert headers["content-security-policy"] == policy


def test_authenticated_api_answers_are_hardened_and_not_stored(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    for response in (
        client.get("/api/v1/users/me", headers=user_headers),
        client.get(f"/api/v1/jobs/{'0' * 32}", headers=user_headers),  # 404
        client.post("/api/v1/jobs", headers=user_headers, json={}),  # 422
        client.get("/api/v1/users/me", headers={"X-API-Key": "tj_unknown"}),  # 401
    ):
        assert_hardened(dict(response.headers))
        assert response.headers["cache-control"] == "no-store"


def test_anonymous_answers_are_hardened_and_may_be_cached(client: TestClient) -> None:
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert_hardened(dict(response.headers))
    assert "cache-control" not in response.headers


def test_answers_of_other_middleware_are_hardened_too(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    too_large = client.post(
        "/api/v1/files",
        headers={**user_headers, "Content-Length": str(settings.MAX_UPLOAD_BYTES * 2)},
        content=b"",
    )
    assert too_large.status_code == 413
    assert_hardened(dict(too_large.headers))


def test_the_token_answer_is_never_stored(client: TestClient) -> None:
    make_user("alice@example.com")
    response = client.post(
        "/api/v1/login/access-token",
        data={"username": "alice@example.com", "password": "password-123"},
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"


def test_an_endpoints_own_cache_control_is_kept() -> None:
    def cached(_: Request) -> JSONResponse:
        return JSONResponse({}, headers={"Cache-Control": "private, max-age=60"})

    inner = Starlette(routes=[Route("/api/cached", cached)])
    app = SecurityHeaders(inner, api_prefix="/api", docs_paths=())
    with TestClient(app) as client:
        response = client.get("/api/cached", headers={"Authorization": "Bearer x"})
    assert response.headers["cache-control"] == "private, max-age=60"
    assert_hardened(dict(response.headers))


def test_the_jobs_page_works_under_its_policy(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert_hardened(dict(response.headers), PAGE_POLICY)
    # What the policy allows is what the page uses: script modules and a style sheet of
    # its own origin, nothing inline (no <script> body, handler attribute or style),
    # nothing loaded from elsewhere, no eval. (tests/test_jobs_page.py runs it in a
    # browser that enforces the policy.)
    assert directive(PAGE_POLICY, "script-src") == "'self'"
    assert directive(PAGE_POLICY, "style-src") == "'self'"
    assert "unsafe" not in PAGE_POLICY
    page = response.text
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, flags=re.S)
    assert scripts
    for attributes, body in scripts:
        assert body.strip() == "", attributes
        assert 'type="module"' in attributes, attributes
    assert not re.search(r"<style|\sstyle=|\son[a-z]+=|javascript:", page, flags=re.I)
    assert not re.search(r"""(src|href)=["'](https?:)?//""", page)
    sources = re.findall(r"""<(?:script|link)[^>]+(?:src|href)=["']([^"']+)""", page)
    for source in sources:
        served = client.get(f"/{source}")
        assert served.status_code == 200, source
        # Module scripts load only with a JavaScript type (nosniff makes it strict).
        expected = "text/javascript" if source.endswith(".js") else "text/css"
        assert served.headers["content-type"].startswith(expected), source
    for script in (FRONTEND_DIR / "js").glob("*.js"):
        code = script.read_text()
        assert not re.search(r"\beval\(|new Function|innerHTML|setAttribute\(\"style", code), script
        # The modules import each other, and nothing from elsewhere.
        for imported in re.findall(r"""from ["']([^"']+)["']""", code):
            assert (script.parent / imported).is_file(), (script, imported)


def test_the_page_may_fetch_from_the_store_that_downloads_redirect_to() -> None:
    def page(_: Request) -> HTMLResponse:
        return HTMLResponse("<!doctype html>")

    inner = Starlette(routes=[Route("/", page), Route("/api/x", page)])
    store = "https://bucket.s3.example.com"
    app = SecurityHeaders(inner, api_prefix="/api", docs_paths=(), store_origin=lambda: store)
    with TestClient(app) as client:
        policy = client.get("/").headers["content-security-policy"]
        assert client.get("/api/x").headers["content-security-policy"] == API_POLICY
    assert policy == page_policy(store)
    assert directive(policy, "connect-src") == f"'self' {store}"
    assert policy.replace(f" {store}", "") == PAGE_POLICY


def directive(policy: str, name: str) -> str:
    return next(
        part.strip().removeprefix(name).strip()
        for part in policy.split(";")
        if part.strip().startswith(f"{name} ")
    )


def test_the_api_docs_get_the_sources_they_load(client: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        response = client.get(path)
        assert_hardened(dict(response.headers), DOCS_POLICY)
        for url in re.findall(r"""<script src=["']?(https://[^/"']+)""", response.text):
            assert url in DOCS_POLICY.split("script-src")[1].split(";")[0], (path, url)


def test_cors_answers_the_configured_origins_only(client: TestClient) -> None:
    assert settings.cors_origins == [UI, "https://tools.example.org"]
    preflight = client.options(
        "/api/v1/jobs",
        headers={
            "Origin": UI,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == UI
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    assert_hardened(dict(preflight.headers))

    simple = client.get("/api/v1/health", headers={"Origin": "https://tools.example.org"})
    assert simple.headers["access-control-allow-origin"] == "https://tools.example.org"
    exposed = simple.headers["access-control-expose-headers"].lower()
    assert {"location", "retry-after"} <= {name.strip() for name in exposed.split(",")}

    stranger = client.get("/api/v1/health", headers={"Origin": "https://evil.example.net"})
    assert "access-control-allow-origin" not in stranger.headers
    refused = client.options(
        "/api/v1/jobs",
        headers={"Origin": "https://evil.example.net", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in refused.headers
