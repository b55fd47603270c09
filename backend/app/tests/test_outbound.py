"""The outbound policy (app.core.outbound), tried as an attacker would: a callback_url in
every private form is refused at submit (a 422 naming the field) and at delivery, and
nothing reaches the listeners on loopback; then what an allowed request may do.

The suite's environment allow-lists loopback for the webhook tests; the attacks run
without that list, as a deployment does by default.
"""

import logging
import socket
import ssl
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from fastapi.testclient import TestClient

from app.core import outbound
from app.core.config import settings
from app.crud import user as user_crud
from app.db.session import SessionLocal
from app.services import webhooks
from app.worker.tasks import deliver_webhook
from tests.support.jobs import ended_job
from tests.support.listeners import Listener, ipv6_loopback_available, listening

# Each reaches a listener on loopback when nothing refuses it: {v4} is the port of the
# one on 127.0.0.1, {v6} of the one on ::1.
LOOPBACK_FORMS = [
    "http://127.0.0.1:{v4}/hook",
    "http://2130706433:{v4}/",  # decimal
    "http://0177.0.0.1:{v4}/",  # octal
    "http://0x7f.1:{v4}/",  # hexadecimal, short
    "http://0x7f000001:{v4}/",
    "http://127.1:{v4}/",  # short
    "http://127.000.000.001:{v4}/",
    "http://127.0.0.1.:{v4}/",  # trailing dot
    "http://0:{v4}/",  # 0.0.0.0 is this machine
    "http://0.0.0.0:{v4}/",
    "http://evil.example@127.0.0.1:{v4}/",  # userinfo
    "http://user:password@127.0.0.1:{v4}/",
    "http://[::ffff:127.0.0.1]:{v4}/",  # IPv4-mapped IPv6
    "http://[::ffff:7f00:1]:{v4}/",
    "http://[::ffff:0.0.0.0]:{v4}/",
    "http://localhost:{v4}/",
    "http://LOCALHOST.:{v4}/",
    "http://hooks.localhost:{v4}/",
    "http://ⓛocalhost:{v4}/",  # IDNA maps it to localhost
    "http://\uff11\uff12\uff17.\uff10.\uff10.\uff11:{v4}/",  # full-width digits
    "http://127。0。0。1:{v4}/",  # ideographic full stops
]
IPV6_LOOPBACK_FORMS = [
    "http://[::1]:{v6}/",
    "http://[0:0:0:0:0:0:0:1]:{v6}/",
    "http://[::]:{v6}/",  # the unspecified address is this machine too
]
# Forms a URL parser reads as loopback and another as some other host: the submit
# stores the URL as it will be called, so the check judges what the call would reach.
SUBMIT_FORMS = [
    "http://127.0.0.1:{v4}\\@evil.example/",
    "http://%31%32%37.0.0.1:{v4}/",
]
# Private and reserved addresses elsewhere: judged without a connection (nothing must
# leave this machine even if the policy failed).
ELSEWHERE_FORMS = [
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://[fe80::1]/",
    "http://[fe80::1%25eth0]/",  # with a zone
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",  # carrier-grade NAT
    "http://[fd12:3456::1]/",  # unique local
    "http://[fec0::1]/",  # site-local
    "http://224.0.0.1/",
    "http://[ff02::1]/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://192.0.2.1/",  # documentation
    "http://[2001:db8::1]/",
    "http://[2002:a9fe:a9fe::]/",  # 6to4 of 169.254.169.254
    "http://[64:ff9b::a00:1]/",  # NAT64 of 10.0.0.1
    "http://[::10.0.0.1]/",  # IPv4-compatible (deprecated)
    "http://[::ffff:169.254.169.254]/",
]
NOT_HTTP = ["file:///etc/passwd", "ftp://example.com/", "gopher://127.0.0.1:70/"]


@pytest.fixture
def no_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "OUTBOUND_ALLOWED_NETWORKS", [])
    monkeypatch.setattr(settings, "OUTBOUND_ALLOWED_HOSTS", [])


@pytest.fixture
def loopback() -> Iterator[list[Listener]]:
    """Listeners on 127.0.0.1 and, where this machine has it, ::1."""
    with listening("127.0.0.1") as v4:
        if not ipv6_loopback_available():
            yield [v4]
            return
        with listening("::1") as v6:
            yield [v4, v6]


def attacks(listeners: list[Listener], forms: list[str]) -> list[str]:
    ports = {"v4": listeners[0].port, "v6": listeners[-1].port}
    with_ipv6 = forms + (IPV6_LOOPBACK_FORMS if len(listeners) == 2 else [])
    return [form.format(**ports) for form in with_ipv6]


def owner() -> uuid.UUID:
    with SessionLocal() as session:
        user = user_crud.create_user(
            session, email=f"{uuid.uuid4()}@example.com", hashed_password="not-used"
        )
        session.commit()
        return user.id


def deliver(job_id: uuid.UUID) -> None:
    with SessionLocal() as session:
        webhooks.deliver(session, job_id)


def loopback_names() -> list[str]:
    """Names of /etc/hosts, other than localhost, that resolve to loopback here."""
    names = {
        name
        for line in Path("/etc/hosts").read_text().splitlines()
        for name in line.split("#")[0].split()[1:]
        if "localhost" not in name
    }

    def on_loopback(name: str) -> bool:
        try:
            found = socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)
        except OSError:
            return False
        return all(sockaddr[0] in {"127.0.0.1", "::1"} for *_, sockaddr in found)

    return sorted(filter(on_loopback, names))


@pytest.mark.usefixtures("no_allow_list")
def test_every_private_form_is_refused_at_submit_and_nothing_reaches_loopback(
    client: TestClient, user_headers: dict[str, str], loopback: list[Listener]
) -> None:
    forms = attacks(loopback, LOOPBACK_FORMS + SUBMIT_FORMS) + ELSEWHERE_FORMS + NOT_HTTP
    answers = {
        form: client.post(
            "/api/v1/jobs",
            headers=user_headers,
            json={"tool": "echo", "inputs": {"message": "x"}, "callback_url": form},
        )
        for form in forms
    }
    accepted = {
        form: answer.status_code for form, answer in answers.items() if answer.status_code != 422
    }
    assert accepted == {}
    located = {form: answer.json()["detail"][0]["loc"] for form, answer in answers.items()}
    assert {tuple(loc) for loc in located.values()} == {("body", "callback_url")}
    assert [listener.received for listener in loopback] == [[]] * len(loopback)


@pytest.mark.usefixtures("no_allow_list")
def test_every_loopback_form_is_refused_at_delivery_without_a_connection(
    loopback: list[Listener], caplog: pytest.LogCaptureFixture
) -> None:
    user_id = owner()
    forms = attacks(loopback, LOOPBACK_FORMS)
    jobs = {form: ended_job(user_id, callback_url=form) for form in forms}
    with caplog.at_level(logging.WARNING, logger=webhooks.__name__):
        for job_id in jobs.values():
            deliver(job_id)  # returns: a refusal is not tried again
    assert [listener.received for listener in loopback] == [[]] * len(loopback)
    logged = [record.getMessage() for record in caplog.records]
    assert all(any(str(job_id) in line for line in logged) for job_id in jobs.values())


@pytest.mark.usefixtures("no_allow_list")
@pytest.mark.parametrize("url", [*ELSEWHERE_FORMS, *NOT_HTTP, "http:///no-host"])
def test_private_and_reserved_addresses_elsewhere_are_refused(url: str) -> None:
    with pytest.raises(outbound.OutboundRefused):
        outbound.check_url(url)


@pytest.mark.usefixtures("no_allow_list")
@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/tooljobs",
        "http://8.8.8.8:8080/",
        "http://[2606:4700:4700::1111]/",
        "http://[64:ff9b::808:808]/",  # NAT64 of a public address
    ],
)
def test_public_addresses_and_names_pass_the_check(url: str) -> None:
    outbound.check_url(url)


@pytest.mark.usefixtures("no_allow_list")
def test_a_name_that_resolves_to_loopback_passes_submit_and_is_refused_at_delivery(
    client: TestClient, user_headers: dict[str, str], loopback: list[Listener]
) -> None:
    names = loopback_names()
    if not names:
        pytest.skip("no name in /etc/hosts resolves to loopback here")
    for name in names:
        url = f"http://{name}:{loopback[0].port}/hook"
        submitted = client.post(
            "/api/v1/jobs",
            headers=user_headers,
            json={"tool": "echo", "inputs": {"message": "x"}, "callback_url": url},
        )
        assert submitted.status_code == 202, submitted.text  # DNS is not asked at submit
        deliver(uuid.UUID(submitted.json()["id"]))
    assert loopback[0].received == []


@pytest.mark.usefixtures("no_allow_list")
def test_a_refused_delivery_is_logged_once_without_secrets_and_not_retried(
    loopback: list[Listener], caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://user:hunter2@localhost:{loopback[0].port}/hook?token=s3cret"
    job_id = ended_job(owner(), callback_url=url)
    with caplog.at_level(logging.INFO):
        result = deliver_webhook.apply(args=[str(job_id)])
    assert result.successful()
    assert result.result is None
    refusals = [r.getMessage() for r in caplog.records if r.name == webhooks.__name__]
    assert len(refusals) == 1
    assert str(job_id) in refusals[0]
    assert "loopback" in refusals[0]
    everything = caplog.text
    for secret in ("hunter2", "s3cret", settings.WEBHOOK_SECRET):
        assert secret not in everything
    assert loopback[0].received == []


def test_allow_listed_loopback_is_called_at_the_checked_address_with_the_host_name(
    loopback: list[Listener],
) -> None:
    # The suite's environment allow-lists 127.0.0.0/8 and ::1.
    response = outbound.send("POST", f"http://localhost:{loopback[0].port}/hook", content=b"{}")
    assert response.status_code == 204
    (request,) = loopback[0].received
    assert request.startswith(b"POST /hook HTTP/1.1\r\n")
    assert f"host: localhost:{loopback[0].port}\r\n".encode() in request.lower()


@pytest.mark.usefixtures("no_allow_list")
def test_loopback_is_refused_unless_allow_listed(
    loopback: list[Listener], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"http://localhost:{loopback[0].port}/hook"
    with pytest.raises(outbound.OutboundRefused, match="loopback"):
        outbound.send("POST", url)
    assert loopback[0].received == []
    monkeypatch.setattr(settings, "OUTBOUND_ALLOWED_HOSTS", ["LocalHost."])
    assert outbound.send("POST", url).status_code == 204
    assert len(loopback[0].received) == 1


def test_redirects_are_not_followed() -> None:
    with listening() as target:
        redirect = (
            f"HTTP/1.1 302 Found\r\nLocation: http://{target.netloc}/\r\n"
            "Content-Length: 0\r\nConnection: close\r\n\r\n"
        ).encode()
        with listening(answer=redirect) as redirecting:
            response = outbound.send("GET", f"http://{redirecting.netloc}/")
    assert response.status_code == 302
    assert target.received == []


def test_an_oversized_answer_is_cut_at_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "OUTBOUND_MAX_RESPONSE_BYTES", 1000)
    size = 8 * 1024 * 1024
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size + b"x" * size
    with listening(answer=answer) as big:
        response = outbound.send("GET", f"http://{big.netloc}/")
    assert (len(response.body), response.truncated) == (1000, True)


def test_an_endpoint_that_never_answers_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "OUTBOUND_TIMEOUT_SECONDS", 0.3)
    with listening(answer=None) as silent:
        started = time.monotonic()
        with pytest.raises(outbound.OutboundUnreachable, match="Timeout"):
            outbound.send("POST", f"http://{silent.netloc}/hook", content=b"{}")
        assert time.monotonic() - started < 2
    assert len(silent.received) == 1


@pytest.fixture
def certificate_authority(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> trustme.CA:
    """A CA the outbound requests trust (SSL_CERT_FILE, as an operator would set it)."""
    authority = trustme.CA()
    authority.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    return authority


def server_context(authority: trustme.CA, name: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert(name).configure_cert(context)
    return context


def test_https_at_the_checked_address_verifies_the_host_name(
    certificate_authority: trustme.CA,
) -> None:
    with listening(tls=server_context(certificate_authority, "localhost")) as server:
        response = outbound.send("GET", f"https://localhost:{server.port}/")
    assert response.status_code == 204
    assert server.server_names == ["localhost"]


def test_https_refuses_a_certificate_for_another_name(
    certificate_authority: trustme.CA,
) -> None:
    with (
        listening(tls=server_context(certificate_authority, "other.example")) as server,
        pytest.raises(outbound.OutboundUnreachable, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        outbound.send("GET", f"https://localhost:{server.port}/")
    assert server.server_names == ["localhost"]


def test_a_refused_callback_url_is_named_in_a_batch_and_on_the_tool_route(
    client: TestClient, user_headers: dict[str, str], no_allow_list: None
) -> None:
    echo = {"tool": "echo", "inputs": {"message": "x"}}
    batch = client.post(
        "/api/v1/jobs/batch",
        headers=user_headers,
        json={"jobs": [echo, {**echo, "callback_url": "http://169.254.169.254/"}]},
    )
    assert batch.status_code == 422
    assert batch.json()["detail"][0]["loc"] == ["body", "jobs", 1, "callback_url"]
    assert batch.json()["detail"][0]["type"] == "url_not_allowed"
    typed = client.post(
        "/api/v1/tools/echo/jobs",
        headers=user_headers,
        json={"inputs": {"message": "x"}, "callback_url": "http://[::ffff:10.0.0.1]/"},
    )
    assert typed.status_code == 422
    assert typed.json()["detail"][0]["loc"] == ["body", "callback_url"]
