"""An IMAP connection plus the per-connection state SharedClient tracks (selected mailbox, ENABLEd
extensions), so jobs on the account worker can skip redundant SELECT/ENABLE round trips."""

from __future__ import annotations

from dataclasses import dataclass

from imapclient import IMAPClient

from sharedclient.core.imap.session import close_imap


@dataclass
class ImapConnection:
    client: IMAPClient
    selected: tuple[str, bool] | None = None  # (path, read-only)
    enabled: tuple[bool, bool] | None = None  # (CONDSTORE, QRESYNC) once ENABLEd

    def close(self) -> None:
        close_imap(self.client)

    def interrupt(self) -> None:
        """Unblock a read in progress on another thread (used by shutdown)."""
        try:
            self.client.socket().shutdown(2)
        except OSError:
            pass
