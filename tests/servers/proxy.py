"""A loopback TCP proxy in front of a real server, able to rewrite, split or cut what the server says.

Used to play a network attacker (strip STARTTLS, inject responses) or a bad network (responses split
across TCP segments, connections dropped mid-transfer, a server that is briefly unreachable) against the
real Dovecot/Postfix without writing a fake server. Every byte the client sent is recorded so tests can
assert that no credentials ever crossed the wire in clear. Each connection is relayed on its own thread,
so a client may hold several at once (the account worker plus an IDLE watcher).
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
from collections.abc import Callable

Rewrite = Callable[[bytes], bytes]
Split = Callable[[bytes], list[bytes]]


class RewritingProxy:
    def __init__(
        self,
        target_host: str,
        target_port: int,
        server_to_client: Rewrite = lambda b: b,
        *,
        split: Split | None = None,
        split_delay: float = 0.3,
    ) -> None:
        """``split`` cuts each server->client chunk into pieces sent ``split_delay`` seconds apart."""
        self.target = (target_host, target_port)
        self.rewrite = server_to_client
        self.split = split
        self.split_delay = split_delay
        self.client_bytes = bytearray()
        self.connections = 0  # accepted so far
        self.refusing = False  # when set, new connections are closed at once (server "unreachable")
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._live: list[tuple[socket.socket, socket.socket]] = []
        self._relays: list[threading.Thread] = []
        self._cut_budget: int | None = None  # server->client bytes still allowed before a one-shot cut
        self._thread = threading.Thread(target=self._serve, name="rewriting-proxy", daemon=True)

    def __enter__(self) -> RewritingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.cut()
        for relay in list(self._relays):
            relay.join(5)
        self._listener.close()

    # -- faults the tests inject -------------------------------------------------------------------

    def cut(self) -> int:
        """Drop every live connection now (both directions); return how many were cut."""
        with self._lock:
            live = list(self._live)
        for pair in live:
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        return len(live)

    def cut_after(self, server_bytes: int) -> None:
        """Once ``server_bytes`` more bytes went from server to client, cut that connection (once)."""
        with self._lock:
            self._cut_budget = server_bytes

    @property
    def live(self) -> int:
        with self._lock:
            return len(self._live)

    # -- relaying ----------------------------------------------------------------------------------

    def _serve(self) -> None:
        self._listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            if self.refusing:
                client.close()
                continue
            relay = threading.Thread(target=self._connection, args=(client,), name="proxy-relay", daemon=True)
            self._relays = [t for t in self._relays if t.is_alive()] + [relay]
            relay.start()

    def _connection(self, client: socket.socket) -> None:
        with client, socket.create_connection(self.target, timeout=10) as upstream:
            pair = (client, upstream)
            with self._lock:
                self._live.append(pair)
            try:
                self._relay(client, upstream)
            finally:
                with self._lock:
                    self._live.remove(pair)

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
                        chunks = [data]
                    else:
                        data = self.rewrite(data)
                        chunks = self.split(data) if self.split else [data]
                        if self._over_budget(client, upstream, chunks):
                            return
                    try:
                        for i, chunk in enumerate(chunks):
                            if i:
                                time.sleep(self.split_delay)
                            key.data.sendall(chunk)
                    except OSError:
                        return
        finally:
            sel.close()

    def _over_budget(self, client: socket.socket, upstream: socket.socket, chunks: list[bytes]) -> bool:
        """Apply a pending ``cut_after``: forward what fits, then cut this connection."""
        with self._lock:
            budget = self._cut_budget
            if budget is None:
                return False
            total = sum(len(c) for c in chunks)
            if total <= budget:
                self._cut_budget = budget - total
                return False
            self._cut_budget = None
        with contextlib.suppress(OSError):
            client.sendall(b"".join(chunks)[:budget])
        for sock in (client, upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        return True
