"""Opening an authenticated IMAP session: TLS always verified, never a plaintext fallback."""

from __future__ import annotations

import imaplib
import logging
import re
import ssl
from dataclasses import dataclass

from imapclient import IMAPClient, SocketTimeout
from imapclient.exceptions import IMAPClientError, LoginError

from sharedclient.core.errors import AuthError, ProtocolError, SharedClientError, StartTlsUnavailableError, TlsError
from sharedclient.core.model import Account, Security
from sharedclient.core.netfail import translate_connect_error
from sharedclient.core.tls import StartTlsGuard, check_plaintext, client_context

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 15.0
READ_TIMEOUT = 60.0


@dataclass(frozen=True)
class ImapTimeouts:
    connect: float = CONNECT_TIMEOUT
    read: float = READ_TIMEOUT


def server_text(exc: BaseException) -> str:
    """The server's own words from an imaplib/imapclient error, without Python's b'' wrapping."""
    text = str(exc)
    if text.startswith(("b'", 'b"')) and text.endswith(("'", '"')):
        text = text[2:-1]
    return text.strip()


_TIMING = re.compile(r"\s*\(\d+\.\d+(?: \+ \d+\.\d+)* secs\)\.?$")
_INNER = re.compile(r"""\[b(['"])(.*)\1\]$""", re.S)  # imaplib's "... failed: [b'...']" wrapping


def server_reason(exc: BaseException) -> str:
    """Just the reason, for the end of a sentence: no "select failed:", response code, timing or final dot.

    "select failed: [NONEXISTENT] Mailbox doesn't exist: X (0.001 + 0.000 secs)." -> "Mailbox doesn't exist: X"
    """
    text = server_text(exc)
    inner = _INNER.search(text)
    if inner:
        text = inner.group(2)
    text = re.sub(r"^\w+ (?:command error|failed): (?:BAD |NO )?", "", text)
    text = re.sub(r"^Error in IMAP command \w+: ", "", text)
    text = re.sub(r"^\[[A-Z-]+(?: [^\]]*)?\]\s*", "", text)
    return _TIMING.sub("", text).strip().rstrip(".").replace("\\'", "'")


def open_imap(account: Account, password: str, timeouts: ImapTimeouts = ImapTimeouts()) -> IMAPClient:
    """Connect, secure and log in; return a ready client or raise a SharedClientError.

    The caller owns the returned client (one thread at a time: imapclient is not thread-safe).
    """
    ep = account.imap
    where = f"{ep.host}:{ep.port}"
    ctx = client_context(account.ca_file)
    client: IMAPClient | None = None
    try:
        if ep.security is Security.PLAIN:
            check_plaintext(ep.host, None, "IMAP", where)  # before connecting: a tampered setting sends nothing
        client = IMAPClient(
            ep.host,
            port=ep.port,
            ssl=ep.security is Security.TLS,
            ssl_context=ctx,
            timeout=SocketTimeout(connect=timeouts.connect, read=timeouts.read),
        )
        if ep.security is Security.PLAIN:
            check_plaintext(ep.host, client.socket(), "IMAP", where)
        if ep.security is Security.STARTTLS:
            if client._imap.state != "NONAUTH":  # noqa: SLF001 - "* PREAUTH" in clear: a MITM skipping STARTTLS
                raise TlsError(
                    f"The IMAP server {where} claimed the session was already logged in (PREAUTH) before the "
                    "connection was encrypted. Someone on the network may be tampering with it, so SharedClient "
                    "disconnected; nothing was sent."
                )
            if not client.has_capability("STARTTLS"):
                raise StartTlsUnavailableError(
                    f"The IMAP server {where} does not offer STARTTLS, so SharedClient will not log in "
                    "(it never sends a password unencrypted). Ask for implicit TLS (--imap-security tls) "
                    "or check the port."
                )
            client.starttls(StartTlsGuard(ctx, lambda: client._imap.file, f"The IMAP server {where}"))  # noqa: SLF001
        try:
            client.login(account.username, password)
        except LoginError as exc:
            raise AuthError(
                f"The IMAP server {where} rejected the user name or password for {account.username} "
                f"(server said: {server_text(exc)})."
            ) from None
        return client
    except SharedClientError:
        _close_quietly(client)
        raise
    except (OSError, ssl.SSLError, imaplib.IMAP4.abort) as exc:
        _close_quietly(client)
        raise translate_connect_error(exc, "IMAP", where, timeouts.connect) from exc
    except (IMAPClientError, imaplib.IMAP4.error) as exc:
        _close_quietly(client)
        raise ProtocolError(f"The IMAP server {where} answered unexpectedly: {server_text(exc)}.") from exc


def tls_version(client: IMAPClient) -> str:
    sock = client.socket()
    return sock.version() if isinstance(sock, ssl.SSLSocket) else "none"


def close_imap(client: IMAPClient) -> None:
    """Log out politely; fall back to closing the socket. Never raises."""
    try:
        client.logout()
    except Exception:  # noqa: BLE001 - the connection may already be gone; we only want it closed.
        _close_quietly(client)


def _close_quietly(client: IMAPClient | None) -> None:
    if client is None:
        return
    try:
        client.shutdown()
    except Exception:  # noqa: BLE001
        log.debug("closing IMAP socket failed", exc_info=True)
