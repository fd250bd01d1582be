"""SMTP submission: implicit TLS or mandatory STARTTLS, always verified, then AUTH.

Later the send path adds envelope handling and reply-code mapping here.
"""

from __future__ import annotations

import logging
import smtplib
import ssl

from sharedclient.core.errors import AuthError, ProtocolError, SharedClientError, StartTlsUnavailableError
from sharedclient.core.model import Account, Security
from sharedclient.core.netfail import translate_connect_error
from sharedclient.core.tls import client_context

log = logging.getLogger(__name__)

SMTP_TIMEOUT = 30.0


def reply_text(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    return f"{code} {' '.join(text.split())}"


def open_smtp(account: Account, password: str, timeout: float = SMTP_TIMEOUT) -> smtplib.SMTP:
    """Connect, secure, EHLO and AUTH; return the ready connection or raise a SharedClientError."""
    ep = account.smtp
    where = f"{ep.host}:{ep.port}"
    ctx = client_context(account.ca_file)
    conn: smtplib.SMTP | None = None
    try:
        if ep.security is Security.TLS:
            conn = smtplib.SMTP_SSL(ep.host, ep.port, timeout=timeout, context=ctx)
        else:
            conn = smtplib.SMTP(ep.host, ep.port, timeout=timeout)
        conn.ehlo()
        if ep.security is Security.STARTTLS:
            if not conn.has_extn("starttls"):
                raise StartTlsUnavailableError(
                    f"The SMTP server {where} does not offer STARTTLS, so SharedClient will not log in "
                    "(it never sends a password unencrypted). Ask for implicit TLS (--smtp-security tls) "
                    "or check the port."
                )
            code, msg = conn.starttls(context=ctx)
            if code != 220:
                raise ProtocolError(f"The SMTP server {where} refused STARTTLS: {reply_text(code, msg)}.")
            conn.ehlo()
        try:
            conn.login(account.username, password)
        except smtplib.SMTPAuthenticationError as exc:
            raise AuthError(
                f"The SMTP server {where} rejected the user name or password for {account.username} "
                f"(server said: {reply_text(exc.smtp_code, exc.smtp_error)})."
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise ProtocolError(f"The SMTP server {where} does not offer authentication (AUTH).") from None
        return conn
    except SharedClientError:
        close_smtp(conn)
        raise
    except smtplib.SMTPServerDisconnected as exc:
        close_smtp(conn)
        hint = " This port may expect implicit TLS (--smtp-security tls)." if ep.security is Security.STARTTLS else ""
        err = translate_connect_error(ConnectionResetError(str(exc)), "SMTP", where, timeout)
        raise type(err)(err.user_message + hint) from exc
    except smtplib.SMTPResponseException as exc:
        close_smtp(conn)
        raise ProtocolError(
            f"The SMTP server {where} answered unexpectedly: {reply_text(exc.smtp_code, exc.smtp_error)}."
        ) from exc
    except (OSError, ssl.SSLError) as exc:
        close_smtp(conn)
        raise translate_connect_error(exc, "SMTP", where, timeout) from exc


def tls_version(conn: smtplib.SMTP) -> str:
    sock = conn.sock
    return sock.version() if isinstance(sock, ssl.SSLSocket) else "none"


def close_smtp(conn: smtplib.SMTP | None) -> None:
    """QUIT politely, or just close. Never raises."""
    if conn is None:
        return
    try:
        conn.quit()
    except Exception:  # noqa: BLE001 - connection may be half-open; closing is all we want.
        conn.close()
