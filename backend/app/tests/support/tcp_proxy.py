"""A TCP proxy that a test can cut, stall and restore: `python -m tests.support.tcp_proxy
PORT UPSTREAM_PORT`, then one command a line on stdin (`cut`, `stall`, `restore`),
each answered `ok` on stdout once done."""

import contextlib
import socket
import sys
import threading


class TcpProxy:
    """Forwards 127.0.0.1:`port` to 127.0.0.1:`upstream_port`.

    `cut()` is a server or network gone: new connections are refused and open ones
    dropped. `stall()` is a server that hangs: open connections are dropped and new ones
    accepted but never answered. `restore()` forwards again on the same port.
    """

    def __init__(self, port: int, upstream_port: int) -> None:
        self.port = port
        self.upstream_port = upstream_port
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._stalled = False

    def restore(self) -> None:
        if self._stalled:
            self.cut()
        self._listen(stalled=False)

    def stall(self) -> None:
        self.cut()
        self._listen(stalled=True)

    def cut(self) -> None:
        with self._lock:
            self._stalled = False
            listener, self._listener = self._listener, None
            dropped, self._open = self._open, set()
        for sock in [*([listener] if listener else []), *dropped]:
            # shutdown() wakes the threads blocked in accept() or recv() on it.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _listen(self, *, stalled: bool) -> None:
        with self._lock:
            if self._listener is not None:
                return
            self._stalled = stalled
            self._listener = socket.create_server(("127.0.0.1", self.port))
            listener = self._listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                downstream, _ = listener.accept()
            except OSError:
                return  # cut
            if self._stalled:
                with self._lock:
                    self._open.add(downstream)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                downstream.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    downstream.close()
                    upstream.close()
                    return
                self._open.update((downstream, upstream))
            for source, target in ((downstream, upstream), (upstream, downstream)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        with self._lock:
            self._open.difference_update((source, target))


def main() -> None:
    port, upstream_port = map(int, sys.argv[1:3])
    proxy = TcpProxy(port, upstream_port)
    commands = {"cut": proxy.cut, "stall": proxy.stall, "restore": proxy.restore}
    for line in sys.stdin:
        commands[line.strip()]()
        sys.stdout.write("ok\n")
        sys.stdout.flush()
    proxy.cut()


if __name__ == "__main__":
    main()
