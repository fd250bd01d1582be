"""RFC 6186 SRV lookups: which IMAP and submission servers a mail domain announces in DNS.

The resolver is injected (tests never touch real DNS); the default uses dnspython, since the standard
library cannot ask for SRV records. Records are ordered as RFC 2782 says (lowest priority first, then a
weighted random pick within one priority), and implicit-TLS services (``_imaps``, ``_submissions``) come
before their STARTTLS twins, as RFC 8314 §5.1 recommends.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sharedclient.core.errors import NetworkError
from sharedclient.core.model import Endpoint, Security

log = logging.getLogger(__name__)

DNS_TIMEOUT = 5.0


@dataclass(frozen=True)
class SrvRecord:
    priority: int
    weight: int
    port: int
    target: str  # "." means "this service is decidedly not available" (RFC 2782)


#: ``resolve("_imaps._tcp.example.com")`` -> its SRV records ([] for none); NetworkError when DNS fails.
SrvResolver = Callable[[str], Sequence[SrvRecord]]

#: (service label, security), best first.
IMAP_SERVICES = (("_imaps._tcp", Security.TLS), ("_imap._tcp", Security.STARTTLS))
SUBMISSION_SERVICES = (("_submissions._tcp", Security.TLS), ("_submission._tcp", Security.STARTTLS))


def rfc2782_order(records: Sequence[SrvRecord], rng: random.Random | None = None) -> list[SrvRecord]:
    """Priority ascending; within a priority, repeated weighted random selection (zero weights last-ish)."""
    rng = rng or random.Random()
    ordered: list[SrvRecord] = []
    for priority in sorted({r.priority for r in records}):
        group = sorted((r for r in records if r.priority == priority), key=lambda r: r.weight)  # 0s first (RFC)
        while group:
            total = sum(r.weight for r in group)
            pick = rng.randint(0, total)
            running = 0
            for index, record in enumerate(group):
                running += record.weight
                if running >= pick:
                    ordered.append(group.pop(index))
                    break
    return ordered


def endpoints_for(
    domain: str, services: Sequence[tuple[str, Security]], resolve: SrvResolver, rng: random.Random | None = None
) -> list[Endpoint]:
    """Usable endpoints announced for ``services`` in preference order ([] when none)."""
    found: list[Endpoint] = []
    for label, security in services:
        records = list(resolve(f"{label}.{domain}"))
        if any(r.target.rstrip(".") == "" for r in records):  # "." target: explicitly not offered
            continue
        for record in rfc2782_order(records, rng):
            if 0 < record.port < 65536:
                found.append(Endpoint(record.target.rstrip(".").lower(), record.port, security))
    return found


def dnspython_resolver(timeout: float = DNS_TIMEOUT) -> SrvResolver | None:
    """A resolver on dnspython, or None when it is not installed (discovery then skips SRV)."""
    try:
        import dns.exception
        import dns.resolver
    except ImportError:
        return None

    def resolve(name: str) -> list[SrvRecord]:
        try:
            answer = dns.resolver.resolve(name, "SRV", lifetime=timeout)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.exception.DNSException as exc:
            raise NetworkError(f"The DNS lookup of {name} failed ({exc.__class__.__name__}).") from exc
        return [SrvRecord(r.priority, r.weight, r.port, r.target.to_text()) for r in answer]

    return resolve
