"""An IMAP connection plus the per-connection state SharedClient tracks (selected mailbox, ENABLEd
extensions, namespaces), so jobs on the account worker can skip redundant round trips."""

from __future__ import annotations

import imaplib
import selectors
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from imapclient import IMAPClient

from sharedclient.core.imap.session import close_imap

if TYPE_CHECKING:
    from sharedclient.core.imap.discovery import NamespaceEntry


@dataclass
class ImapConnection:
    client: IMAPClient
    selected: tuple[str, bool] | None = None  # (path, read-only)
    enabled: tuple[bool, bool] | None = None  # (CONDSTORE, QRESYNC) once ENABLEd
    namespaces: list[NamespaceEntry] | None = None  # NAMESPACE never changes within a session
    last_used: float = field(default_factory=time.monotonic)

    def close(self) -> None:
        close_imap(self.client)

    def interrupt(self) -> None:
        """Unblock a read in progress on another thread (used by shutdown)."""
        try:
            self.client.socket().shutdown(2)
        except OSError:
            pass

    def check_alive(self, stale_after: float) -> bool:
        """False when the server has gone away since the last command; never blocks for long.

        Between commands a server says nothing unless it is leaving (``* BYE`` on autologout, on
        shutdown, or when Dovecot drops sessions of a mailbox whose UIDVALIDITY changed), so a readable
        socket means "probably closed": a NOOP settles it. After ``stale_after`` seconds of silence a
        NOOP also checks for a connection a NAT box dropped without telling anyone. Without this probe
        the user's next action would fail with "connection lost" and only the one after would work.
        """
        try:
            with selectors.DefaultSelector() as sel:  # not select.select: it fails beyond 1024 descriptors
                sel.register(self.client.socket(), selectors.EVENT_READ)
                readable = bool(sel.select(0))
        except (OSError, ValueError):
            return False
        if not readable and time.monotonic() - self.last_used < stale_after:
            return True
        try:
            self.client.noop()
        except (OSError, EOFError, imaplib.IMAP4.error):
            return False
        self.last_used = time.monotonic()
        return True
