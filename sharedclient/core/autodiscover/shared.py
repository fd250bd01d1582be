"""Shared mailboxes a login can open: the "other users" namespace read through NAMESPACE + LIST.

Used by the account wizard to offer "a shared mailbox I can open from my login". Prefixes and
separators come from the server (:mod:`sharedclient.core.imap.discovery`), never hard-coded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from imapclient.exceptions import IMAPClientError

from sharedclient.core.errors import ProtocolError
from sharedclient.core.imap.discovery import classify, read_namespaces
from sharedclient.core.imap.rights import my_rights
from sharedclient.core.imap.session import close_imap, open_imap, server_text
from sharedclient.core.model import Account, Section

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SharedMailbox:
    owner: str  # e.g. support@example.test
    folders: tuple[str, ...]  # folder names below the owner, INBOX first
    rights: str  # MYRIGHTS on the first folder ("" when unknown)

    @property
    def access(self) -> str:
        if not self.rights:
            return "access unknown"
        return "read and write" if {"i", "w"} <= set(self.rights) else "read only"


def shared_mailboxes(account: Account, password: str) -> list[SharedMailbox]:
    """Every shared owner this login sees, sorted by owner; opens and closes its own connection."""
    client = open_imap(account, password)
    try:
        namespaces = read_namespaces(client)
        groups: dict[str, list[tuple[str, str]]] = {}
        for flags, delim, name in client.list_folders():
            path = name.decode() if isinstance(name, bytes) else name
            section, owner = classify(path, namespaces, account)
            if section is not Section.SHARED or not owner or account.kind == "shared":
                continue
            if any(f.lower() in (b"\\noselect", b"\\nonexistent") for f in flags):
                continue
            sep = delim.decode() if isinstance(delim, bytes) else delim
            short = path.split(owner + (sep or ""), 1)[-1] if sep else path
            groups.setdefault(owner, []).append((short, path))
        found = []
        for owner in sorted(groups):
            entries = sorted(groups[owner], key=lambda e: (e[0].upper() != "INBOX", e[0].lower()))
            try:
                rights = my_rights(client, entries[0][1])
            except IMAPClientError as exc:
                log.info("MYRIGHTS on %s failed: %s", entries[0][1], exc)
                rights = ""
            found.append(SharedMailbox(owner, tuple(short for short, _ in entries), rights))
        return found
    except IMAPClientError as exc:
        raise ProtocolError(f"Listing the shared mailboxes failed: {server_text(exc)}.") from exc
    finally:
        close_imap(client)
