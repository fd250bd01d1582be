"""TLS policy: always verify, optionally trust one extra CA file; STARTTLS without injected bytes.

imaplib and smtplib do not verify certificates unless given a context, so every connection in
SharedClient goes through :func:`client_context`. STARTTLS upgrades go through :class:`StartTlsGuard`:
imaplib and smtplib silently drop whatever was already read into their buffers when they switch to TLS,
and anything that arrived in clear after the server's "go ahead" was put there by someone in between
(response injection, CVE-2021-29969 / "Why TLS is better without STARTTLS", USENIX Security 2021). We
refuse such a connection instead of carrying on, so nothing an attacker wrote is ever trusted.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Callable
from typing import IO, Any

from sharedclient.core.errors import TlsError


def client_context(ca_file: str | None = None) -> ssl.SSLContext:
    """A verifying client context (system CAs plus ``ca_file``), TLS 1.2 at least."""
    ctx = ssl.create_default_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca_file:
        try:
            ctx.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise TlsError(f"The CA file {ca_file} cannot be used: {getattr(exc, 'strerror', None) or exc}.") from exc
    return ctx


def describe_tls_failure(exc: ssl.SSLError, where: str) -> str:
    """One sentence naming the host and what failed, for a failed handshake."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = (exc.verify_message or exc.reason or "verification failed").rstrip(".")
        return (
            f"The certificate of {where} is not trusted ({reason}); "
            "nothing was sent. If this server uses a private CA, pass its certificate with --ca-file."
        )
    return f"The secure connection to {where} failed ({exc.reason or exc}); nothing was sent."


def pending_bytes(reader: IO[bytes] | None, sock: socket.socket | None) -> bytes:
    """Bytes already received but not yet read (buffered in ``reader`` or waiting on ``sock``); never blocks."""
    if sock is None:
        return b""
    timeout = sock.gettimeout()
    sock.settimeout(0.0)
    try:
        data = reader.peek(1) if reader is not None and hasattr(reader, "peek") else b""
        if not data:
            data = sock.recv(1, socket.MSG_PEEK)  # may also be b"" for a closed connection: nothing injected
    except (BlockingIOError, InterruptedError):
        data = b""
    except (OSError, ValueError):  # closed or broken: the next read reports it in its own words
        data = b""
    finally:
        try:
            sock.settimeout(timeout)
        except OSError:
            pass
    return bytes(data or b"")


def refuse_early_bytes(reader: IO[bytes] | None, sock: socket.socket | None, where: str, moment: str) -> None:
    """Raise TlsError when ``where`` said more than it was asked before encryption started."""
    if pending_bytes(reader, sock):
        raise TlsError(
            f"{where} sent unexpected data {moment}, before the connection was encrypted. Someone on the "
            "network may be tampering with it (STARTTLS response injection), so SharedClient disconnected; "
            "nothing was sent. Try again later, or use implicit TLS."
        )


class StartTlsGuard:
    """Stands in for the SSL context in ``imaplib``/``smtplib`` ``starttls``: their only use of it is
    ``wrap_socket`` right after the server's "go ahead", which is exactly when injected bytes must be
    looked for (the libraries would drop them from their buffer without a word)."""

    def __init__(self, ctx: ssl.SSLContext, reader: Callable[[], IO[bytes] | None], where: str) -> None:
        self.ctx = ctx
        self.reader = reader
        self.where = where

    def wrap_socket(self, sock: socket.socket, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        refuse_early_bytes(self.reader(), sock, self.where, "right after agreeing to start TLS")
        return self.ctx.wrap_socket(sock, *args, **kwargs)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` names and loopback addresses (127.0.0.0/8, ::1); never resolves DNS."""
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1, as a dual-stack socket reports it
    return ip.is_loopback or bool(mapped is not None and mapped.is_loopback)


def check_plaintext(host: str, sock: socket.socket | None, service: str, where: str) -> None:
    """Raise TlsError unless a plaintext connection stays on this computer.

    Checked by name before connecting (only loopback addresses and ``localhost`` names) and, once
    connected, by the peer address itself, so a name that resolves elsewhere never gets the password.
    """
    refusal = TlsError(
        f"The {service} server {where} is set up without encryption, which SharedClient allows only for a "
        "server on this computer (127.0.0.1, ::1 or localhost); nothing was sent. Use TLS or STARTTLS."
    )
    if not is_loopback(host):
        raise refusal
    if sock is not None:
        try:
            peer = sock.getpeername()[0]
        except (OSError, IndexError) as exc:
            raise refusal from exc
        if not is_loopback(str(peer).split("%", 1)[0]):
            raise refusal
