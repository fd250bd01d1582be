"""Find the servers for an address: DNS SRV (RFC 6186), then autoconfig XML, then verified host guesses.

Each step only looks for what is still missing (a domain may announce IMAP in DNS but publish SMTP in
its autoconfig file). Everything network-facing is injected through :class:`Discoverer`, so tests run
against loopback servers and never reach real DNS or the internet. The result says where each server
came from; the wizard shows that, and the connection test then proves it with the real login.
"""

from __future__ import annotations

import logging
import random
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sharedclient.core.autodiscover import autoconfig, guess, srv
from sharedclient.core.errors import NetworkError, SharedClientError
from sharedclient.core.model import Endpoint, validate_address
from sharedclient.core.tls import client_context

log = logging.getLogger(__name__)


class DiscoveryCancelled(SharedClientError):
    """The person cancelled the search for servers."""


@dataclass(frozen=True)
class Found:
    endpoint: Endpoint
    username: str
    source: str  # "DNS SRV record _imaps._tcp.example.com", "autoconfig https://…", "verified guess"


@dataclass(frozen=True)
class Discovery:
    email: str
    imap: Found | None
    smtp: Found | None
    notes: tuple[str, ...] = ()
    ca_file: str | None = None  # the extra CA the discovery trusted (the account should trust it too)

    @property
    def complete(self) -> bool:
        return self.imap is not None and self.smtp is not None


@dataclass
class Discoverer:
    """How to look: resolvers, URLs and trust. The defaults are the real network."""

    srv_resolver: srv.SrvResolver | None = field(default_factory=srv.dnspython_resolver)
    autoconfig_urls: autoconfig.UrlPlan = autoconfig.default_urls
    host_resolver: guess.HostResolver = guess.system_resolver
    guess_plan: guess.GuessPlan = field(default_factory=guess.GuessPlan)
    ca_file: str | None = None  # trusted in addition to the system CAs (HTTPS and TLS probes)
    rng: random.Random = field(default_factory=random.Random)
    timeout: float = guess.PROBE_TIMEOUT

    def _context(self) -> ssl.SSLContext:
        return client_context(self.ca_file)

    def discover(
        self, email: str, *, progress: Callable[[str], None] = lambda _t: None, cancel: threading.Event | None = None
    ) -> Discovery:
        email = validate_address(email)
        domain = email.rpartition("@")[2].lower()
        notes: list[str] = []
        found: dict[str, Found] = {}

        def note(text: str) -> None:
            notes.append(text)
            progress(text)

        def check_cancel() -> None:
            if cancel is not None and cancel.is_set():
                raise DiscoveryCancelled("The search for your mail servers was cancelled.")

        check_cancel()
        progress(f"Looking up DNS SRV records of {domain}…")
        self._from_srv(domain, email, found, note)
        if len(found) < 2:
            check_cancel()
            progress(f"Looking for an autoconfig file of {domain}…")
            result = autoconfig.lookup(email, urls=self.autoconfig_urls, context=self._context(), note=note)
            for service in ("imap", "smtp"):
                server = getattr(result, service) if result else None
                if server is not None and service not in found:
                    found[service] = Found(server.endpoint, server.username, f"autoconfig file {result.url}")  # type: ignore[union-attr]
        if len(found) < 2:
            check_cancel()
            missing = [s for s in ("imap", "smtp") if s not in found]
            progress(f"Trying the usual server names of {domain} ({', '.join(missing).upper()})…")
            guessed = guess.guess(domain, self._context(), plan=self.guess_plan, resolve=self.host_resolver,
                                  cancel=cancel, timeout=self.timeout, want=missing)  # fmt: skip
            for p in guessed.probes:
                if not p.ok:
                    note(f"{p.endpoint} ({p.endpoint.security.value}): {p.problem}.")
            for service in missing:
                endpoint = getattr(guessed, service)
                if endpoint is not None:
                    found[service] = Found(endpoint, email, f"the usual name {endpoint.host}, verified over TLS")
        check_cancel()
        for service in ("imap", "smtp"):
            if service not in found:
                note(f"No {service.upper()} server was found for {domain}; enter it on the next page.")
        return Discovery(email, found.get("imap"), found.get("smtp"), tuple(notes), self.ca_file)

    def _from_srv(self, domain: str, email: str, found: dict[str, Found], note: Callable[[str], None]) -> None:
        if self.srv_resolver is None:
            note("DNS SRV records were not looked up (the dnspython package is not installed).")
            return
        for service, services in (("imap", srv.IMAP_SERVICES), ("smtp", srv.SUBMISSION_SERVICES)):
            try:
                endpoints = srv.endpoints_for(domain, services, self.srv_resolver, self.rng)
            except NetworkError as exc:
                note(exc.user_message)
                continue
            if endpoints:
                ep = endpoints[0]
                label = next(label for label, sec in services if sec is ep.security)
                found[service] = Found(ep, email, f"DNS SRV record {label}.{domain}")
            else:
                note(f"No DNS SRV record announces {service.upper()} for {domain}.")
