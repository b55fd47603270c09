"""The one door for every URL the server itself calls or fetches (webhooks, and the
references of OGC execute requests).

The policy: http and https only; a host's addresses must all be public (not loopback,
private, link-local, multicast, reserved or unspecified, also when an IPv6 address
carries an IPv4 one) unless the operator allow-listed them (OUTBOUND_ALLOWED_NETWORKS)
or the host's name (OUTBOUND_ALLOWED_HOSTS); no redirects; a short timeout; a capped
answer.

Two checks use it. `check_url` judges what is known without the network (the URL's
form, an address written in it in any spelling the system resolver reads, and the
names that are loopback by definition) and suits a submit. `send` makes the request:
it resolves the host once, judges every address, and connects to a judged address
while the Host header, TLS SNI and the certificate check keep the URL's host name, so
that a name cannot resolve to one address when checked and to another when called.
"""

import ipaddress
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx

from app.core.config import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 6761: these names resolve to loopback wherever they are asked.
LOOPBACK_NAME = "localhost"
LOOPBACK = ipaddress.IPv4Address("127.0.0.1")
# RFC 6052's NAT64 prefix carries an IPv4 address in its last 32 bits (the mapped form
# and 6to4 have their own properties in `ipaddress`).
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

# The first that applies names the refusal (loopback is also private, so it comes first).
KINDS: tuple[tuple[str, Callable[[IPAddress], bool]], ...] = (
    ("a loopback address", lambda address: address.is_loopback),
    ("a link-local address", lambda address: address.is_link_local),
    ("a multicast address", lambda address: address.is_multicast),
    ("the unspecified address", lambda address: address.is_unspecified),
    ("a private address", lambda address: address.is_private),
    ("a reserved address", lambda address: address.is_reserved),
)


class OutboundRefused(Exception):
    """The policy does not allow this URL: asking again will not change that."""


class OutboundUnreachable(Exception):
    """No answer in time (no route, refused, timed out, a name that did not resolve):
    asking again later may work."""


@dataclass(frozen=True)
class OutboundResponse:
    status_code: int
    body: bytes  # at most OUTBOUND_MAX_RESPONSE_BYTES
    truncated: bool
    content_type: str = ""

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300


def check_url(url: str) -> None:
    """OutboundRefused unless the URL may be called, as far as is known without asking
    DNS: `send` judges the addresses a name resolves to when it calls."""
    _check_without_dns(_parsed(url))


def send(
    method: str,
    url: str,
    *,
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> OutboundResponse:
    """Make the request under the policy; the answer's body is read up to the cap.

    OutboundRefused when the policy refuses the URL or an address its host resolves to
    (before anything is sent); OutboundUnreachable when no answer came in time.
    """
    target = _parsed(url)
    timeout = settings.OUTBOUND_TIMEOUT_SECONDS
    deadline = time.monotonic() + timeout
    try:
        with (
            httpx.Client(
                transport=PinnedTransport(),
                follow_redirects=False,
                # HTTP(S)_PROXY from the environment would send the request around
                # the transport, to a proxy that resolves the name again.
                trust_env=False,
                timeout=timeout,
                # Compressed answers would grow past the cap once decoded.
                headers={"Accept-Encoding": "identity"},
            ) as client,
            client.stream(method, target, content=content, headers=headers) as response,
        ):
            body, truncated = _read_at_most(
                response.iter_raw(), settings.OUTBOUND_MAX_RESPONSE_BYTES, deadline
            )
    except httpx.HTTPError as error:
        raise OutboundUnreachable(f"{type(error).__name__}: {error}") from None
    return OutboundResponse(
        response.status_code, body, truncated, response.headers.get("content-type", "")
    )


class PinnedTransport(httpx.BaseTransport):
    """Sends each request to an address of its host that the policy allowed, trying
    them in the resolver's order until one connects."""

    def __init__(self) -> None:
        self._connections = httpx.HTTPTransport(retries=0)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        *others, last = _resolved_addresses(request.url)
        for address in others:
            try:
                return self._connections.handle_request(_pinned(request, address))
            except httpx.ConnectError:
                continue  # nothing was sent: the next address may take it
        return self._connections.handle_request(_pinned(request, last))

    def close(self) -> None:
        self._connections.close()


def _parsed(url: str) -> httpx.URL:
    # httpx's reading of the URL is the one the request uses, so it is the one judged.
    try:
        return httpx.URL(url)
    except httpx.InvalidURL as error:
        raise OutboundRefused(f"not a valid URL: {error}") from None


def _host(url: httpx.URL) -> str:
    """The host to resolve, in ASCII (IDNA names as xn--...) as the resolver and TLS
    see it; OutboundRefused for another scheme or no host."""
    if url.scheme not in SCHEMES:
        raise OutboundRefused("only http and https URLs are allowed")
    host = url.raw_host.decode("ascii")
    if not host:
        raise OutboundRefused("the URL has no host")
    return host


def _check_without_dns(url: httpx.URL) -> str:
    """The URL's host, once its form and any address written in it passed."""
    host = _host(url)
    if not _host_allowed(host):
        for address in _literal_addresses(host):
            _judge(host, address)
    return host


def _host_allowed(host: str) -> bool:
    return _name(host) in {_name(allowed) for allowed in settings.OUTBOUND_ALLOWED_HOSTS}


def _name(host: str) -> str:
    return host.rstrip(".").lower()


def _literal_addresses(host: str) -> list[IPAddress]:
    """The addresses a host stands for without DNS: an address in any spelling the
    system resolver reads (2130706433, 0177.0.0.1, 0x7f.1, 127.1, 127.0.0.1.), an IPv6
    address, and loopback for localhost and its subdomains; none for other names."""
    name = _name(host)
    if name == LOOPBACK_NAME or name.endswith(f".{LOOPBACK_NAME}"):
        return [LOOPBACK]
    if ":" in name:  # an IPv6 address (httpx took the port off), maybe with a %-zone
        try:
            return [ipaddress.ip_address(unquote(name))]
        except ValueError:
            raise OutboundRefused(f"{host} is not an IPv6 address") from None
    try:
        found = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError):
        return []
    return _addresses(found)


def _resolved_addresses(url: httpx.URL) -> list[IPAddress]:
    """Every address the host resolves to, once; OutboundRefused if any is not allowed."""
    host = _check_without_dns(url)
    port = url.port or DEFAULT_PORTS[url.scheme]
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise httpx.ConnectError(f"{host} does not resolve: {error}") from None
    addresses = _addresses(found)
    if not _host_allowed(host):
        for address in addresses:
            _judge(host, address)
    return addresses


def _addresses(found: list[tuple[Any, ...]]) -> list[IPAddress]:
    """getaddrinfo's addresses, once each, in its order."""
    return list(dict.fromkeys(ipaddress.ip_address(sockaddr[0]) for *_, sockaddr in found))


def _judge(host: str, address: IPAddress) -> None:
    judged = _embedded_ipv4(address) or address
    allowed = settings.OUTBOUND_ALLOWED_NETWORKS
    if any(candidate in network for candidate in {address, judged} for network in allowed):
        return
    if _is_public(judged):
        return
    kind = next((kind for kind, applies in KINDS if applies(judged)), "not a public address")
    where = str(address) if _name(host) == str(address) else f"{host} ({address})"
    raise OutboundRefused(f"{where} is {kind}; only public addresses may be called")


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address that an IPv6 address reaches: mapped, 6to4 or NAT64. (The
    deprecated IPv4-compatible form, ::a.b.c.d, is refused as reserved.)"""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _is_public(address: IPAddress) -> bool:
    # is_global alone lets multicast, IPv6's reserved blocks and site-local through.
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return False
    return address.is_global and not address.is_multicast and not address.is_reserved


def _pinned(request: httpx.Request, address: IPAddress) -> httpx.Request:
    """The request sent to `address`; its Host header (already set) and, for https, the
    name TLS presents and verifies stay the URL's host."""
    extensions = dict(request.extensions)
    if request.url.scheme == "https":
        extensions["sni_hostname"] = request.url.raw_host.decode("ascii")
    return httpx.Request(
        request.method,
        request.url.copy_with(host=str(address)),
        headers=request.headers,
        stream=request.stream,
        extensions=extensions,
    )


def _read_at_most(chunks: Iterator[bytes], limit: int, deadline: float) -> tuple[bytes, bool]:
    """Up to `limit` bytes, and whether more came; a slow drip of bytes ends at the
    deadline as a timeout would."""
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if len(body) > limit:
            return bytes(body[:limit]), True
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout("the answer took longer than OUTBOUND_TIMEOUT_SECONDS")
    return bytes(body), False
