"""TCP listeners on this machine that record every connection, for the outbound tests."""

import socket
import socketserver
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

NO_CONTENT = b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"


@dataclass
class Listener:
    host: str
    port: int
    # What each connection sent before the answer (b"" for one that sent nothing).
    received: list[bytes] = field(default_factory=list)
    # The name a TLS client asked for (SNI), one per handshake.
    server_names: list[str | None] = field(default_factory=list)

    @property
    def netloc(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def ipv6_loopback_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@contextmanager
def listening(
    host: str = "127.0.0.1",
    answer: bytes | None = NO_CONTENT,
    tls: ssl.SSLContext | None = None,
) -> Iterator[Listener]:
    """A server on `host` that records each connection and answers `answer` to it
    (None: holds it open without a word), over TLS when given a context."""
    stopped = threading.Event()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            listener.received.append(b"")
            index = len(listener.received) - 1
            try:
                connection = self.request
                if tls is not None:
                    connection = tls.wrap_socket(connection, server_side=True)
                listener.received[index] = _read_request(connection)
                if answer is None:
                    stopped.wait()
                else:
                    connection.sendall(answer)
            except OSError:
                pass  # the client hung up (as it does past the size cap), or TLS failed

    class Server(socketserver.ThreadingTCPServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        daemon_threads = True
        allow_reuse_address = True

    server = Server((host, 0), Handler)
    listener = Listener(host=host, port=server.server_address[1])
    if tls is not None:

        def record_server_name(_: ssl.SSLObject, name: str | None, __: ssl.SSLContext) -> None:
            listener.server_names.append(name)

        tls.sni_callback = record_server_name
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield listener
    finally:
        stopped.set()
        server.shutdown()
        server.server_close()


def _read_request(connection: socket.socket) -> bytes:
    """The request's head and body (by Content-Length), or what came within a second."""
    connection.settimeout(1)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        while len(body) < length:
            body += connection.recv(65536)
        return head + b"\r\n\r\n" + body
    except TimeoutError:
        return data
