"""A loopback TCP proxy in front of a real server, able to rewrite what the server says.

Used to play a network attacker (strip STARTTLS, inject responses) against the real Dovecot/Postfix
without writing a fake server. Every byte the client sent is recorded so tests can assert that no
credentials ever crossed the wire in clear.
"""

from __future__ import annotations

import selectors
import socket
import threading
from collections.abc import Callable

Rewrite = Callable[[bytes], bytes]


class RewritingProxy:
    def __init__(self, target_host: str, target_port: int, server_to_client: Rewrite = lambda b: b) -> None:
        self.target = (target_host, target_port)
        self.rewrite = server_to_client
        self.client_bytes = bytearray()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="rewriting-proxy", daemon=True)

    def __enter__(self) -> RewritingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()

    def _serve(self) -> None:
        self._listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            with client, socket.create_connection(self.target, timeout=10) as upstream:
                self._relay(client, upstream)

    def _relay(self, client: socket.socket, upstream: socket.socket) -> None:
        sel = selectors.DefaultSelector()
        sel.register(client, selectors.EVENT_READ, upstream)
        sel.register(upstream, selectors.EVENT_READ, client)
        try:
            while not self._stop.is_set():
                for key, _ in sel.select(0.1):
                    src: socket.socket = key.fileobj  # type: ignore[assignment]
                    try:
                        data = src.recv(65536)
                    except OSError:
                        return
                    if not data:
                        return
                    if src is client:
                        self.client_bytes += data
                    else:
                        data = self.rewrite(data)
                    try:
                        key.data.sendall(data)
                    except OSError:
                        return
        finally:
            sel.close()
