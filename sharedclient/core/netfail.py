"""Translate low-level connection failures into one readable sentence."""

from __future__ import annotations

import socket
import ssl

from sharedclient.core.errors import NetworkError, SharedClientError, TlsError
from sharedclient.core.tls import describe_tls_failure


def translate_connect_error(exc: BaseException, service: str, where: str, timeout: float) -> SharedClientError:
    """Map socket/ssl exceptions raised while talking to ``service`` at ``where`` to a SharedClientError."""
    if isinstance(exc, SharedClientError):
        return exc
    if isinstance(exc, ssl.SSLError):
        return TlsError(describe_tls_failure(exc, f"the {service} server {where}"))
    if isinstance(exc, socket.gaierror):
        host = where.rsplit(":", 1)[0]
        return NetworkError(f"The {service} server “{host}” could not be found (unknown host name).")
    if isinstance(exc, ConnectionRefusedError):
        return NetworkError(
            f"The {service} server {where} refused the connection; check the host and port, and that the server runs."
        )
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return NetworkError(f"The {service} server {where} did not answer within {timeout:g} seconds.")
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, EOFError, ConnectionAbortedError)):
        return NetworkError(f"The {service} server {where} closed the connection unexpectedly.")
    if isinstance(exc, OSError):
        return NetworkError(f"Could not reach the {service} server {where}: {exc.strerror or exc}.")
    return NetworkError(f"Unexpected failure talking to the {service} server {where}: {exc}.")
