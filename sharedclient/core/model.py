"""Plain, immutable data shared by core and ui."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from sharedclient.core.errors import UsageError


class Security(str, Enum):
    """How a connection is protected. Plaintext exists only for servers on this computer (a local bridge
    such as DavMail or a mail gateway's loopback port), chosen explicitly: see core.tls.check_plaintext."""

    TLS = "tls"  # implicit TLS (IMAPS 993, submissions 465)
    STARTTLS = "starttls"  # upgrade required; refusing when the server does not offer it
    PLAIN = "plain"  # no TLS: loopback hosts only, and only with --allow-plaintext-loopback


class SendMode(str, Enum):
    OWN = "own"
    SEND_AS = "send-as"
    ON_BEHALF = "on-behalf"


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    security: Security = Security.TLS

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


_HOSTNAME_RE = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.?)+$")


def parse_host_port(text: str, what: str = "server") -> tuple[str, int]:
    """Parse ``HOST:PORT`` (IPv6 as ``[::1]:993``) with a readable error."""
    text = text.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
        ok = bool(sep and host and rest.startswith(":"))
    else:
        host, sep, port_text = text.rpartition(":")
        ok = bool(sep and host and ":" not in host and _HOSTNAME_RE.match(host))
    if not ok or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise UsageError(
            f"The {what} address “{text}” is not of the form HOST:PORT (for example imap.example.com:993)."
        )
    return host, int(port_text)


_ADDR_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")


def validate_address(address: str) -> str:
    """Return the bare address if it is a plain ``local@domain`` (no display name, no CR/LF)."""
    address = address.strip()
    if not _ADDR_RE.match(address) or ".." in address:
        raise UsageError(f"“{address}” is not a valid e-mail address (expected name@example.com).")
    return address


@dataclass(frozen=True)
class Account:
    """One IMAP+SMTP login. Passwords are not here: they live in the keyring."""

    name: str
    email: str
    imap: Endpoint
    smtp: Endpoint
    username: str
    ca_file: str | None = None
    kind: str = "personal"  # "personal" or "shared" (a shared mailbox with its own login)


@dataclass(frozen=True)
class Identity:
    """An address a person may send from, through one account's SMTP login.

    ``mode``: OWN (the login's own address), SEND_AS (From and envelope are the shared address) or
    ON_BEHALF (From is the shared address, Sender and envelope are the person's own address).
    ``mailbox_owner`` names the shared mailbox the identity belongs to (its Sent folder gets the team
    copy); ``sent_folder`` overrides where that copy goes; ``dsn`` asks for delivery reports.
    """

    address: str
    name: str
    account: str
    mode: SendMode = SendMode.OWN
    aliases: tuple[str, ...] = ()
    reply_to: str | None = None
    signature: str = ""
    mailbox_owner: str | None = None
    sent_folder: str | None = None
    dsn: bool = False


@dataclass(frozen=True)
class MailboxRef:
    account: str
    path: str


class Section(str, Enum):
    PERSONAL = "personal"
    SHARED = "shared"
    PUBLIC = "public"


@dataclass(frozen=True)
class Folder:
    """A mailbox as discovered from NAMESPACE + LIST."""

    account: str
    path: str  # server path, decoded from modified UTF-7
    name: str  # display name (last path component)
    section: Section
    owner: str | None  # shared mailbox owner (e.g. support@example.com)
    delimiter: str | None
    flags: tuple[str, ...] = ()
    special_use: str | None = None  # e.g. "\\Sent"
    rights: str = ""  # RFC 4314 letters from MYRIGHTS
    selectable: bool = True
    unread: int = 0
    total: int = 0
