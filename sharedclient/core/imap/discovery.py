"""Which mailboxes a login can see: NAMESPACE (RFC 2342) + LIST (RFC 6154 special-use) + MYRIGHTS.

Prefixes and separators always come from the server (Dovecot ``shared/<user>/`` with ``/``, Cyrus
``user.`` with ``.``); nothing here hard-codes them.
"""

from __future__ import annotations

import imaplib
import logging
from dataclasses import dataclass

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from sharedclient.core.imap.rights import FULL_RIGHTS, my_rights
from sharedclient.core.model import Account, Folder, Section

log = logging.getLogger(__name__)

SPECIAL_USE = ("\\Sent", "\\Drafts", "\\Trash", "\\Junk", "\\Archive", "\\All", "\\Flagged")


@dataclass(frozen=True)
class NamespaceEntry:
    prefix: str
    delimiter: str | None
    section: Section


def _text(value: bytes | str | None) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def read_namespaces(client: IMAPClient) -> list[NamespaceEntry]:
    """Namespaces, longest prefix first (so the most specific match wins)."""
    if not client.has_capability("NAMESPACE"):
        return [NamespaceEntry("", None, Section.PERSONAL)]
    ns = client.namespace()
    entries = []
    for section, group in ((Section.PERSONAL, ns.personal), (Section.SHARED, ns.other), (Section.PUBLIC, ns.shared)):
        for prefix, delim in group or ():
            entries.append(NamespaceEntry(_text(prefix) or "", _text(delim), section))
    entries.sort(key=lambda e: len(e.prefix), reverse=True)
    return entries


def classify(path: str, namespaces: list[NamespaceEntry], account: Account) -> tuple[Section, str | None]:
    """Section and owner of a mailbox path. A shared-login account is all "shared", owned by its address."""
    for entry in namespaces:
        if path.startswith(entry.prefix) or (entry.prefix and path + (entry.delimiter or "") == entry.prefix):
            if entry.section is Section.SHARED:
                rest = path[len(entry.prefix) :]
                owner = rest.split(entry.delimiter)[0] if entry.delimiter else rest
                return Section.SHARED, owner or None
            if entry.section is Section.PERSONAL and account.kind == "shared":
                return Section.SHARED, account.email
            return entry.section, None
    return Section.PERSONAL, None


def discover_folders(
    client: IMAPClient, account: Account, namespaces: list[NamespaceEntry] | None = None
) -> list[Folder]:
    """Every visible mailbox with its section, owner, special use, rights and (optionally) counts."""
    if namespaces is None:
        namespaces = read_namespaces(client)
    folders: list[Folder] = []
    seen: set[str] = set()
    for entry in client.list_folders():
        path = _text(entry[2]) or ""
        if path in seen:  # Dovecot lists a shared INBOX twice once it has children (INBOX/Templates)
            continue
        seen.add(path)
        folder = _folder(client, account, namespaces, entry, counts=True)
        if folder is not None:
            folders.append(folder)
    return folders


def lookup_folder(
    client: IMAPClient, account: Account, path: str, namespaces: list[NamespaceEntry], *, counts: bool = False
) -> Folder | None:
    """One mailbox by exact path (LIST + MYRIGHTS), or None when this login cannot see it.

    Cheaper than a full discovery, and current: actions check the rights the server grants *now*,
    since they can shrink at any time.
    """
    for entry in client.list_folders("", path):
        if (_text(entry[2]) or "") == path:  # LIST treats % and * in the name as wildcards
            return _folder(client, account, namespaces, entry, counts=counts)
    return None


def _folder(
    client: IMAPClient,
    account: Account,
    namespaces: list[NamespaceEntry],
    entry: tuple[tuple[bytes, ...], bytes | None, bytes | str],
    *,
    counts: bool,
) -> Folder | None:
    raw_flags, delim, name = entry
    path = _text(name) or ""
    flags = tuple(_text(f) or "" for f in raw_flags)
    selectable = not any(f.lower() in ("\\noselect", "\\nonexistent") for f in flags)
    section, owner = classify(path, namespaces, account)
    special = next((f for f in flags if f in SPECIAL_USE), None)
    delimiter = _text(delim)
    display = path.rsplit(delimiter, 1)[-1] if delimiter else path
    rights, unread, total = "", 0, 0
    if selectable:
        try:
            rights = my_rights(client, path) if section is not Section.PERSONAL else FULL_RIGHTS
            if counts and "r" in rights:
                unread, total = folder_counts(client, path)
        except imaplib.IMAP4.abort:
            raise  # the connection is gone: not "this folder vanished" (the cache would forget it)
        except IMAPClientError as exc:  # vanished between LIST and MYRIGHTS, or the right was revoked
            log.info("reading %s failed: %s", path, exc)
            return None
    return Folder(
        account.name, path, display, section, owner, delimiter, flags, special, rights, selectable, unread, total
    )


def mailbox_label(folder: Folder) -> str:
    """How a sentence names a mailbox: "support@example.test's INBOX", "your Trash", "the public folder …"."""
    if folder.section is Section.SHARED and folder.owner:
        marker = folder.owner + (folder.delimiter or "")
        rest = folder.path.split(marker, 1)[1] if folder.delimiter and marker in folder.path else folder.path
        return f"{folder.owner}'s {rest}"
    if folder.section is Section.PUBLIC:
        return f"the public folder {folder.path}"
    return f"your {folder.path}"


def folder_counts(client: IMAPClient, path: str) -> tuple[int, int]:
    """(unread, total) via STATUS; no SELECT, so it does not disturb the selected mailbox."""
    status = client.folder_status(path, [b"MESSAGES", b"UNSEEN"])
    return int(status.get(b"UNSEEN", 0)), int(status.get(b"MESSAGES", 0))
