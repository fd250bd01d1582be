"""A loopback TCP proxy in front of a real server, able to rewrite, split or cut what the server says.

Used to play a network attacker (strip STARTTLS, inject responses) or a bad network (responses split
across TCP segments, connections dropped mid-transfer, a server that is briefly unreachable) against the
real Dovecot/Postfix without writing a fake server. Every byte the client sent is recorded so tests can
assert that no credentials ever crossed the wire in clear. Each connection is relayed on its own thread,
so a client may hold several at once (the account worker plus an IDLE watcher).

With ``intercept`` the proxy is a TLS man in the middle: it presents its own certificate to the client
(on connect for implicit TLS, or after relaying the server's STARTTLS "go ahead") and talks TLS to the
real server itself, so it sees -- and records in ``client_bytes`` -- what a client that wrongly accepted
the certificate would send. ``tls_failures`` lists the handshakes the client refused.
"""

from __future__ import annotations

import contextlib
import re
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

Rewrite = Callable[[bytes], bytes]
Split = Callable[[bytes], list[bytes]]
_STARTTLS_COMMAND = re.compile(rb"(?im)^(?:\S+ )?STARTTLS\r?$")
_GO_AHEAD = re.compile(rb"(?m)^(?:220[ -]|\S+ OK\b)")


@dataclass(frozen=True)
class Intercept:
    """Play TLS man in the middle with this certificate (``mode``: "implicit" or "starttls")."""

    cert_pem: Path
    key_pem: Path
    mode: str = "implicit"

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(self.cert_pem), str(self.key_pem))
        return ctx


def _upstream_context() -> ssl.SSLContext:
    """The attacker's own connection to the real server: it does not care who that is."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class RewritingProxy:
    def __init__(
        self,
        target_host: str,
        target_port: int,
        server_to_client: Rewrite = lambda b: b,
        *,
        split: Split | None = None,
        split_delay: float = 0.3,
        intercept: Intercept | None = None,
    ) -> None:
        """``split`` cuts each server->client chunk into pieces sent ``split_delay`` seconds apart."""
        self.target = (target_host, target_port)
        self.rewrite = server_to_client
        self.split = split
        self.split_delay = split_delay
        self.client_bytes = bytearray()
        self.intercept = intercept
        self.tls_failures: list[str] = []  # handshakes the client refused (intercept mode)
        self.connections = 0  # accepted so far
        self.refusing = False  # when set, new connections are closed at once (server "unreachable")
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._live: list[list[socket.socket]] = []  # [client, upstream], replaced by TLS sockets on upgrade
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
        with contextlib.ExitStack() as stack:
            stack.enter_context(client)
            upstream = stack.enter_context(socket.create_connection(self.target, timeout=10))
            pair = [client, upstream]
            with self._lock:
                self._live.append(pair)
            try:
                if self.intercept is not None and self.intercept.mode == "implicit":
                    if not self._upgrade(pair):
                        return
                self._relay(pair)
            finally:
                with self._lock:
                    self._live.remove(pair)
                for sock in pair:
                    with contextlib.suppress(OSError):
                        sock.close()

    def _upgrade(self, pair: list[socket.socket]) -> bool:
        """Switch both sides to TLS with the intercept certificate; False when the client refused it."""
        assert self.intercept is not None
        try:
            pair[1] = _upstream_context().wrap_socket(pair[1])
        except (OSError, ssl.SSLError):
            return False
        try:
            pair[0].settimeout(10)
            pair[0] = self.intercept.server_context().wrap_socket(pair[0], server_side=True)
        except (OSError, ssl.SSLError) as exc:
            self.tls_failures.append(f"{type(exc).__name__}: {exc}")
            return False
        return True

    def _relay(self, pair: list[socket.socket]) -> None:
        starttls_asked = False
        sel = selectors.DefaultSelector()

        def register() -> None:
            for sock in list(sel.get_map().values()):
                sel.unregister(sock.fileobj)
            sel.register(pair[0], selectors.EVENT_READ, 1)
            sel.register(pair[1], selectors.EVENT_READ, 0)

        register()
        try:
            while not self._stop.is_set():
                # TLS may hold decrypted bytes that select() cannot see
                ready = [sock for sock in pair if isinstance(sock, ssl.SSLSocket) and sock.pending()]
                sources = ready or [key.fileobj for key, _ in sel.select(0.1)]
                for src in sources:
                    client, upstream = pair
                    try:
                        data = src.recv(65536)  # type: ignore[union-attr]
                    except OSError:
                        return
                    if not data:
                        return
                    if src is client:
                        self.client_bytes += data
                        chunks = [data]
                        dst = upstream
                        if self.intercept is not None and self.intercept.mode == "starttls":
                            starttls_asked = starttls_asked or bool(_STARTTLS_COMMAND.search(data))
                    else:
                        data = self.rewrite(data)
                        chunks = self.split(data) if self.split else [data]
                        dst = client
                        if self._over_budget(client, upstream, chunks):
                            return
                    try:
                        for i, chunk in enumerate(chunks):
                            if i:
                                time.sleep(self.split_delay)
                            dst.sendall(chunk)
                    except OSError:
                        return
                    if starttls_asked and src is upstream and _GO_AHEAD.search(data):
                        starttls_asked = False
                        if not self._upgrade(pair):
                            return
                        register()
                        break
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
