"""TLS policy: always verify, optionally trust one extra CA file.

imaplib and smtplib do not verify certificates unless given a context, so every connection in
SharedClient goes through :func:`client_context`.
"""

from __future__ import annotations

import ssl

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
        reason = exc.verify_message or exc.reason or "verification failed"
        return (
            f"The certificate of {where} is not trusted ({reason}); "
            "nothing was sent. If this server uses a private CA, pass its certificate with --ca-file."
        )
    return f"The secure connection to {where} failed ({exc.reason or exc}); nothing was sent."
