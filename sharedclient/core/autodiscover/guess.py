"""Well-known host name guesses (``imap.``/``mail.``/``smtp.<domain>``), each proven by a real TLS handshake.

A guess is only offered when the host answers on the port, completes a verified TLS handshake for the
guessed name (implicit TLS, or after STARTTLS) and greets like the expected protocol. Nothing is logged in
and no password is sent: that is the connection test's job. Name resolution is injected (tests map guessed
names to loopback addresses); the default is the system resolver.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sharedclient.core.model import Endpoint, Security

log = logging.getLogger(__name__)

PROBE_TIMEOUT = 6.0
MAX_LINE = 4096

#: ``resolve(host, port)`` -> socket addresses to try, like ``getaddrinfo``; [] for an unknown name.
HostResolver = Callable[[str, int], Sequence[tuple[str, int]]]


def system_resolver(host: str, port: int) -> list[tuple[str, int]]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return [(str(info[4][0]), int(info[4][1])) for info in infos]


@dataclass(frozen=True)
class GuessPlan:
    """Which names and ports to try, best first (implicit TLS before STARTTLS, RFC 8314)."""

    imap_hosts: tuple[str, ...] = ("imap", "mail")
    smtp_hosts: tuple[str, ...] = ("smtp", "mail")
    imap_ports: tuple[tuple[int, Security], ...] = ((993, Security.TLS), (143, Security.STARTTLS))
    smtp_ports: tuple[tuple[int, Security], ...] = ((465, Security.TLS), (587, Security.STARTTLS))

    def candidates(self, domain: str) -> list[tuple[str, Endpoint]]:
        """("imap"|"smtp", endpoint) in preference order."""
        out = [("imap", Endpoint(f"{h}.{domain}", p, s)) for h in self.imap_hosts for p, s in self.imap_ports]
        out += [("smtp", Endpoint(f"{h}.{domain}", p, s)) for h in self.smtp_hosts for p, s in self.smtp_ports]
        return out


@dataclass(frozen=True)
class Probe:
    service: str
    endpoint: Endpoint
    problem: str = ""  # empty: verified

    @property
    def ok(self) -> bool:
        return not self.problem


@dataclass(frozen=True)
class GuessResult:
    imap: Endpoint | None
    smtp: Endpoint | None
    probes: tuple[Probe, ...] = field(default=())


class _Failed(Exception):
    pass


def _readline(sock: socket.socket) -> bytes:
    """One line, byte by byte, so nothing past it is swallowed before a STARTTLS handshake."""
    line = bytearray()
    while not line.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise _Failed("the server closed the connection")
        line += chunk
        if len(line) > MAX_LINE:
            raise _Failed("the server sent an overlong line")
    return bytes(line)


def _greeting(sock: socket.socket, service: str) -> None:
    if service == "imap":
        if not _readline(sock).startswith(b"* OK"):
            raise _Failed("it does not greet like an IMAP server")
        return
    while True:
        line = _readline(sock)
        if not line.startswith(b"220"):
            raise _Failed("it does not greet like an SMTP server")
        if line[3:4] != b"-":
            return


def _starttls(sock: socket.socket, service: str) -> None:
    if service == "imap":
        sock.sendall(b"g1 STARTTLS\r\n")
        while True:
            line = _readline(sock)
            if line.startswith(b"g1 "):
                if not line.startswith(b"g1 OK"):
                    raise _Failed("it refused STARTTLS")
                return
    sock.sendall(b"EHLO sharedclient.invalid\r\n")
    lines = []
    while True:
        line = _readline(sock)
        lines.append(line[4:].strip().upper())
        if not line.startswith(b"250"):
            raise _Failed("it refused EHLO")
        if line[3:4] != b"-":
            break
    if b"STARTTLS" not in lines:
        raise _Failed("it does not offer STARTTLS")
    sock.sendall(b"STARTTLS\r\n")
    if not _readline(sock).startswith(b"220"):
        raise _Failed("it refused STARTTLS")


def probe(
    service: str, endpoint: Endpoint, context: ssl.SSLContext, resolve: HostResolver, timeout: float = PROBE_TIMEOUT
) -> Probe:
    """Connect to ``endpoint`` and complete a verified TLS handshake for its name; never logs in."""
    addresses = resolve(endpoint.host, endpoint.port)
    if not addresses:
        return Probe(service, endpoint, f"{endpoint.host} does not exist")
    problem = ""
    for address in addresses:
        try:
            with socket.create_connection(address, timeout=timeout) as raw:
                if endpoint.security is Security.STARTTLS:
                    _greeting(raw, service)
                    _starttls(raw, service)
                with context.wrap_socket(raw, server_hostname=endpoint.host) as tls:
                    if endpoint.security is Security.TLS:
                        _greeting(tls, service)
                    tls.sendall(b"g2 LOGOUT\r\n" if service == "imap" else b"QUIT\r\n")
            return Probe(service, endpoint)
        except ssl.SSLCertVerificationError as exc:
            problem = f"its certificate is not valid for {endpoint.host} ({exc.verify_message or exc.reason})"
        except ssl.SSLError as exc:
            problem = f"the TLS handshake failed ({exc.reason or exc})"
        except _Failed as exc:
            problem = str(exc)
        except OSError as exc:
            problem = f"no connection ({exc.strerror or exc.__class__.__name__})"
    return Probe(service, endpoint, problem)


def guess(
    domain: str,
    context: ssl.SSLContext,
    *,
    plan: GuessPlan = GuessPlan(),
    resolve: HostResolver = system_resolver,
    cancel: threading.Event | None = None,
    timeout: float = PROBE_TIMEOUT,
    want: Sequence[str] = ("imap", "smtp"),
) -> GuessResult:
    """Probe every candidate in parallel; the best verified one per service is offered."""
    candidates = [(s, ep) for s, ep in plan.candidates(domain) if s in want]
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="guess") as pool:
        futures = [pool.submit(probe, s, ep, context, resolve, timeout) for s, ep in candidates]
        probes = []
        for future in futures:
            if cancel is not None and cancel.is_set():
                pool.shutdown(wait=False, cancel_futures=True)
                break
            probes.append(future.result())
    for p in probes:
        log.info("guess %s %s (%s): %s", p.service, p.endpoint, p.endpoint.security.value, p.problem or "verified")
    best = {s: next((p.endpoint for p in probes if p.service == s and p.ok), None) for s in ("imap", "smtp")}
    return GuessResult(best["imap"], best["smtp"], tuple(probes))
