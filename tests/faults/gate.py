"""A TLS-terminating loopback proxy that freezes one conversation at a named point, so a test can kill the
client exactly there.

Why not ``tests.servers.proxy.RewritingProxy``: that one relays bytes it cannot read (TLS passes through).
To stop *mid-DATA* or *after the final dot* the proxy must see the plaintext, so this one terminates TLS
with the session's own server certificate (the client trusts the session CA, as it does for the real
servers) and opens its own TLS connection to the real server's implicit-TLS port.

Points (one-shot: the first connection that reaches the point is frozen, later ones pass untouched):

* ``greeting`` — right after the client's TLS handshake, before the server's greeting (SMTP or IMAP):
  the client is waiting to start.
* ``mid-data:N`` (SMTP) — after N bytes of message data went to the server, the proxy stops reading from
  the client (its send blocks once the socket buffers are full).
* ``before-dot`` (SMTP) — the whole message is forwarded except the final ``.``: the server never
  completes the transaction.
* ``after-dot`` (SMTP) — the final dot reaches the server, which queues the message and answers 250; that
  reply is withheld from the client.
* ``append-reply`` (IMAP) — the APPEND reaches the server; its tagged OK is withheld from the client.

A frozen connection stays open (nothing relayed either way) until :meth:`drop` closes both sides, as the
kernel would when the killed client's socket goes away.
"""

from __future__ import annotations

import contextlib
import re
import selectors
import socket
import ssl
import threading

from sharedclient.devservers.tls import CertFiles

_IMAP_TAGGED = re.compile(rb"(?m)^[A-Za-z0-9.]+ (OK|NO|BAD)\b")
_DOT = b"\r\n.\r\n"


class TlsGate:
    def __init__(self, target_port: int, certs: CertFiles, point: str | None = None) -> None:
        self.target = ("127.0.0.1", target_port)
        self.point = point
        self.held = threading.Event()  # set when a conversation is frozen at the point
        self.withheld = b""  # what the server said that the client never saw (after-dot, append-reply)
        self.forwarded_data = 0  # SMTP message bytes that reached the server in the frozen conversation
        self._drop = threading.Event()
        self._stop = threading.Event()
        self._server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._server_ctx.load_cert_chain(str(certs.cert_pem), str(certs.key_pem))
        self._client_ctx = ssl.create_default_context(cafile=str(certs.ca_pem))
        self._listener = socket.create_server(("127.0.0.1", 0))
        # A small receive window, so a client writing a big message blocks soon after the proxy stops reading.
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.port = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._thread = threading.Thread(target=self._serve, name="tls-gate", daemon=True)

    def __enter__(self) -> TlsGate:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._drop.set()
        self._thread.join(5)
        for thread in self._threads:
            thread.join(5)
        self._listener.close()

    def arm(self, point: str | None) -> None:
        """Freeze the next conversation that reaches ``point`` (None: relay everything)."""
        self.point = point
        self.held.clear()
        self._drop.clear()
        self.withheld = b""
        self.forwarded_data = 0

    def drop(self) -> None:
        """Close the frozen conversation (both sides) and let later connections pass."""
        self.point = None
        self._drop.set()

    # -- relaying ----------------------------------------------------------------------------------

    def _serve(self) -> None:
        self._listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                raw, _ = self._listener.accept()
            except TimeoutError:
                continue
            thread = threading.Thread(target=self._connection, args=(raw,), name="tls-gate-relay", daemon=True)
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()

    def _claim(self, point: str) -> bool:
        """True for the one conversation that freezes at ``point``."""
        if self.point is None or not self.point.startswith(point) or self.held.is_set():
            return False
        self.held.set()
        return True

    def _freeze(self) -> None:
        self._drop.wait()

    def _connection(self, raw: socket.socket) -> None:
        raw.settimeout(30)
        try:
            client = self._server_ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            return
        with client:
            if self._claim("greeting"):
                self._freeze()
                return
            try:
                upstream = self._client_ctx.wrap_socket(
                    socket.create_connection(self.target, timeout=30), server_hostname="127.0.0.1"
                )
            except OSError:
                return
            with upstream:
                self._relay(client, upstream)

    def _relay(self, client: ssl.SSLSocket, upstream: ssl.SSLSocket) -> None:
        sel = selectors.DefaultSelector()
        sel.register(client, selectors.EVENT_READ)
        sel.register(upstream, selectors.EVENT_READ)
        in_data = False  # SMTP: between "DATA" and the final dot
        dot_sent = False
        data_bytes = 0
        tail = b""
        line = b""
        append_seen = False
        try:
            while not self._stop.is_set():
                for key, _ in sel.select(0.1):
                    src = key.fileobj
                    data = _recv_all(src)  # type: ignore[arg-type]
                    if not data:
                        return
                    if src is client:
                        if not in_data:
                            line += data
                            if re.search(rb"(?im)^DATA\r\n", line):
                                in_data, line = True, b""
                            if b" APPEND " in line.upper():
                                append_seen = True
                            line = line[-200:]
                            upstream.sendall(data)
                            continue
                        if self.point and self.point.startswith("mid-data:"):
                            limit = int(self.point.split(":", 1)[1])
                            if data_bytes + len(data) >= limit and self._claim("mid-data"):
                                upstream.sendall(data[: limit - data_bytes])
                                self.forwarded_data = limit
                                self._freeze()
                                return
                        where = (tail + data).find(_DOT)
                        if where >= 0 and self._claim("before-dot"):
                            upstream.sendall(data[: max(where + 2 - len(tail), 0)])
                            self._freeze()
                            return
                        upstream.sendall(data)
                        data_bytes += len(data)
                        tail = (tail + data)[-4:]
                        if where >= 0:
                            dot_sent, in_data, tail = True, False, b""
                    else:
                        if dot_sent and self._claim("after-dot"):
                            self.withheld = data
                            self._freeze()
                            return
                        if append_seen and _IMAP_TAGGED.search(data) and self._claim("append-reply"):
                            self.withheld = data
                            self._freeze()
                            return
                        dot_sent = False
                        client.sendall(data)
        except OSError:
            return
        finally:
            sel.close()


def _recv_all(sock: ssl.SSLSocket) -> bytes:
    """One read plus whatever TLS already decrypted (select() cannot see that)."""
    try:
        data = sock.recv(65536)
        while data and sock.pending():
            data += sock.recv(sock.pending())
    except (OSError, ssl.SSLError):
        return b""
    return data


@contextlib.contextmanager
def gates(smtp_port: int, imap_port: int, certs: CertFiles):  # type: ignore[no-untyped-def]
    """An SMTP gate and an IMAP gate, both relaying until armed."""
    with TlsGate(smtp_port, certs) as smtp_gate, TlsGate(imap_port, certs) as imap_gate:
        yield smtp_gate, imap_gate
