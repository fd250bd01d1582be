"""SMTP submission: implicit TLS or mandatory STARTTLS, always verified, then AUTH; then the envelope.

:func:`submit` runs one mail transaction by hand (MAIL, every RCPT, DATA) instead of ``sendmail``, for
two reasons: ``sendmail`` delivers to the accepted recipients when only some are refused (we never send to
a subset of what the person wrote), and we must know whether the final "." has left: a connection lost
before it means the server discards the message (safe to retry), after it the message may have been
delivered (never resent by itself). :func:`probe_sender` asks the same questions without sending anything.
Reply wording lives in :mod:`sharedclient.core.smtp_replies`.
"""

from __future__ import annotations

import logging
import re
import smtplib
import socket
import ssl
from collections.abc import Callable, Sequence

from sharedclient.core import smtp_replies
from sharedclient.core.errors import (
    AuthError,
    DeliveryUncertain,
    NetworkError,
    ProtocolError,
    SendError,
    SharedClientError,
    StartTlsUnavailableError,
)
from sharedclient.core.model import Account, Security, SendMode
from sharedclient.core.netfail import translate_connect_error
from sharedclient.core.smtp_replies import Stage
from sharedclient.core.tls import StartTlsGuard, check_plaintext, client_context, refuse_early_bytes

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
        if ep.security is Security.PLAIN:
            check_plaintext(ep.host, None, "SMTP", where)  # before connecting: a tampered setting sends nothing
        if ep.security is Security.TLS:
            conn = smtplib.SMTP_SSL(ep.host, ep.port, timeout=timeout, context=ctx)
        else:
            conn = smtplib.SMTP(ep.host, ep.port, timeout=timeout)
        if ep.security is Security.PLAIN:
            check_plaintext(ep.host, conn.sock, "SMTP", where)
        if ep.security is Security.STARTTLS:  # in clear, one reply per command: more is someone else's
            refuse_early_bytes(conn.file, conn.sock, f"The SMTP server {where}", "after its greeting")
        conn.ehlo()
        if ep.security is Security.STARTTLS:
            refuse_early_bytes(conn.file, conn.sock, f"The SMTP server {where}", "after its EHLO reply")
            if not conn.has_extn("starttls"):
                raise StartTlsUnavailableError(
                    f"The SMTP server {where} does not offer STARTTLS, so SharedClient will not log in "
                    "(it never sends a password unencrypted). Ask for implicit TLS (--smtp-security tls) "
                    "or check the port."
                )
            guard = StartTlsGuard(ctx, lambda: conn.file if conn else None, f"The SMTP server {where}")
            code, msg = conn.starttls(context=guard)  # type: ignore[arg-type] - only wrap_socket is used
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


# ---------------------------------------------------------------------------------------------- sending


def _rset_quietly(conn: smtplib.SMTP) -> None:
    try:
        conn.rset()
    except (smtplib.SMTPException, OSError):
        pass


def dsn_options(conn: smtplib.SMTP, envid: str | None) -> tuple[list[str], list[str]]:
    """(MAIL, RCPT) parameters asking for delivery reports, only when the server lists DSN in EHLO."""
    if not envid or not conn.has_extn("dsn"):
        return [], []
    if not re.fullmatch(r"[!-*,-<>-~]{1,100}", envid):
        raise ValueError(f"ENVID must be xtext without + and =: {envid!r}")
    return ["RET=HDRS", f"ENVID={envid}"], ["NOTIFY=SUCCESS,FAILURE,DELAY"]


def submit(
    conn: smtplib.SMTP,
    envelope_from: str,
    recipients: Sequence[str],
    raw: bytes,
    *,
    identity_address: str,
    mode: SendMode,
    envid: str | None = None,
    before_final_dot: Callable[[], None] | None = None,
) -> str:
    """Send ``raw`` to exactly ``recipients``; return the server's final reply ("250 2.0.0 Ok: queued as …").

    Raises SenderRefused, RecipientsRefused, SendError (``permanent`` False for 4xx and network trouble
    before the end of data) or DeliveryUncertain (the connection broke after the final "."). With a
    refused recipient nothing is sent. ``before_final_dot`` runs just before the final "." is written, so
    the caller can durably record that from now on the outcome may be unknown.
    """
    mail_opts, rcpt_opts = dsn_options(conn, envid)
    if conn.has_extn("size"):
        mail_opts.append(f"SIZE={len(raw)}")
    dot_sent = False
    try:
        code, text = conn.mail(envelope_from, mail_opts)
        if code != 250:
            _rset_quietly(conn)
            msg = text.decode("utf-8", "replace")
            if smtp_replies.is_sender_refusal(Stage.MAIL, code, msg):
                raise smtp_replies.sender_refused(
                    Stage.MAIL, code, msg, identity_address=identity_address, mode=mode, envelope_from=envelope_from
                )
            raise smtp_replies.refused(Stage.MAIL, code, msg)
        refused: dict[str, tuple[int, str]] = {}
        for rcpt in recipients:
            code, text = conn.rcpt(rcpt, rcpt_opts)
            if code not in (250, 251):
                refused[rcpt] = (code, text.decode("utf-8", "replace"))
        if refused:
            _rset_quietly(conn)
            for code, msg in refused.values():
                if smtp_replies.is_sender_refusal(Stage.RCPT, code, msg):
                    raise smtp_replies.sender_refused(
                        Stage.RCPT, code, msg, identity_address=identity_address, mode=mode,
                        envelope_from=envelope_from,
                    )
            raise smtp_replies.recipients_refused(refused)
        code, text = conn.docmd("data")
        if code != 354:
            _rset_quietly(conn)
            raise smtp_replies.refused(Stage.DATA, code, text.decode("utf-8", "replace"))
        body = re.sub(rb"(?m)^\.", b"..", raw)
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        conn.send(body)
        if before_final_dot is not None:
            before_final_dot()
        dot_sent = True
        conn.send(b".\r\n")
        code, text = conn.getreply()
        msg = text.decode("utf-8", "replace")
        if code != 250:
            if smtp_replies.is_sender_refusal(Stage.END, code, msg):
                raise smtp_replies.sender_refused(
                    Stage.END, code, msg, identity_address=identity_address, mode=mode, envelope_from=envelope_from
                )
            raise smtp_replies.refused(Stage.END, code, msg)
        return smtp_replies.reply_text(code, msg)
    except SendError:
        raise
    except (smtplib.SMTPServerDisconnected, OSError, socket.timeout) as exc:
        if dot_sent:
            raise DeliveryUncertain(
                "The connection to the SMTP server broke while it was confirming the message, so it may or may "
                "not have been delivered. It is kept in the outbox and will not be resent by itself: check "
                "with a recipient (or the Sent folder) before sending it again.",
                permanent=True,
            ) from exc
        raise SendError(
            f"The connection to the SMTP server broke before the message was accepted ({exc or type(exc).__name__}); "
            "it stays in the outbox and is retried.",
            permanent=False,
        ) from exc
    except smtplib.SMTPResponseException as exc:  # e.g. a 421 "closing" reply raised by smtplib itself
        err = smtp_replies.refused(Stage.DATA if dot_sent else Stage.MAIL, exc.smtp_code, str(exc.smtp_error))
        if dot_sent:
            raise DeliveryUncertain(err.user_message, smtp_reply=err.smtp_reply, permanent=True) from exc
        raise err from exc


def probe_sender(
    conn: smtplib.SMTP, envelope_from: str, rcpt: str, *, identity_address: str, mode: SendMode
) -> str:
    """MAIL FROM + RCPT TO + RSET: would the server take mail from ``envelope_from``? Nothing is sent.

    Returns the RCPT reply. Raises SenderRefused (permission), SendError (other refusal) or NetworkError.
    """
    try:
        code, text = conn.mail(envelope_from)
        msg = text.decode("utf-8", "replace")
        if code != 250:
            _rset_quietly(conn)
            if smtp_replies.is_sender_refusal(Stage.MAIL, code, msg):
                raise smtp_replies.sender_refused(
                    Stage.MAIL, code, msg, identity_address=identity_address, mode=mode, envelope_from=envelope_from
                )
            raise smtp_replies.refused(Stage.MAIL, code, msg)
        code, text = conn.rcpt(rcpt)
        msg = text.decode("utf-8", "replace")
        _rset_quietly(conn)
        if code not in (250, 251):
            if smtp_replies.is_sender_refusal(Stage.RCPT, code, msg):
                raise smtp_replies.sender_refused(
                    Stage.RCPT, code, msg, identity_address=identity_address, mode=mode, envelope_from=envelope_from
                )
            raise smtp_replies.refused(Stage.RCPT, code, msg)
        return smtp_replies.reply_text(code, msg)
    except (smtplib.SMTPServerDisconnected, OSError) as exc:
        raise NetworkError(f"The connection to the SMTP server broke during the check ({exc}).") from exc
