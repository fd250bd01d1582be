"""Where a mailbox keeps its ``Templates`` and ``Notes``, and whether this user may add to them.

Rules, from what servers really allow:

* An existing folder is found next to the owner's INBOX (``shared/support@x/Templates``) or below it
  (``shared/support@x/INBOX/Templates``) — the latter is where SharedClient creates one in a shared
  mailbox, because Dovecot (like most servers) lets a teammate create folders only *inside* a mailbox
  they hold ``k`` on, and then copies that mailbox's ACL, so the whole team gets the same rights at once.
* Missing: created on the first add when MYRIGHTS on the owner's INBOX (or the named mailbox) has ``k``;
  otherwise reading still works (there is nothing to read) and adding is refused with the reason.
* Adding needs ``i`` on the folder; reading needs ``r``. Rights are read now, never from a cache.
"""

from __future__ import annotations

import imaplib
import logging
from dataclasses import dataclass

from imapclient.exceptions import IMAPClientError

from sharedclient.core.errors import PermissionDenied, ProtocolError
from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.imap.discovery import classify, lookup_folder, mailbox_label
from sharedclient.core.imap.messages import _owner_root, namespaces_of, resolve_folder  # noqa: PLC2701
from sharedclient.core.imap.rights import FULL_RIGHTS, access_summary, my_rights
from sharedclient.core.imap.session import server_reason, server_text
from sharedclient.core.model import Account, Folder, Section

log = logging.getLogger(__name__)

TEMPLATES = "Templates"
NOTES = "Notes"
_WHAT = {TEMPLATES: "templates", NOTES: "notes"}


@dataclass(frozen=True)
class DeskFolder:
    """The Templates or Notes folder of one mailbox (``folder`` None: it does not exist yet)."""

    kind: str  # TEMPLATES or NOTES
    owner: str  # "support@example.test's mailbox" / "your mailbox"
    folder: Folder | None
    create_path: str = ""  # where it would be created on the first add ("" when it cannot be)
    reason: str = ""  # why adding is not possible; "" when it is
    delimiter: str | None = None  # the mailbox's hierarchy separator, from the server

    @property
    def can_add(self) -> bool:
        return not self.reason

    @property
    def readable(self) -> bool:
        return self.folder is not None and "r" in self.folder.rights


def _owner_words(folder: Folder) -> str:
    if folder.section is Section.SHARED and folder.owner:
        return f"{folder.owner}'s mailbox"
    if folder.section is Section.PUBLIC:
        return f"the public folder {folder.path}"
    return "your mailbox"


def _candidates(base: Folder, root: str | None, kind: str) -> list[str]:
    delim = base.delimiter or "/"
    paths = []
    if base.name == kind:
        paths.append(base.path)
    if root is not None:
        paths += [root + kind, f"{root}INBOX{delim}{kind}"]
    paths.append(base.path + delim + kind)
    return list(dict.fromkeys(paths))


def _find(conn: ImapConnection, account: Account, path: str, delimiter: str | None) -> Folder | None:
    """The folder at ``path``: by LIST, else by MYRIGHTS.

    Dovecot does not LIST a shared mailbox's new child (a teammate just created INBOX/Notes) to sessions
    that logged in before, although it can be opened: STATUS finds it (NONEXISTENT when it is not there) and
    MYRIGHTS gives the rights. (MYRIGHTS alone is no test: Dovecot answers it for a missing personal mailbox.)
    """
    namespaces = namespaces_of(conn)
    found = lookup_folder(conn.client, account, path, namespaces)
    if found is not None:
        return found
    section, owner = classify(path, namespaces, account)
    try:
        conn.client.folder_status(path, [b"MESSAGES"])  # NO [NONEXISTENT] when it is not there
        own = section is Section.PERSONAL and account.kind != "shared"
        rights = FULL_RIGHTS if own else my_rights(conn.client, path)
    except imaplib.IMAP4.abort:
        raise
    except IMAPClientError:
        return None
    if not set(rights) & {"l", "r"}:
        return None
    name = path.rsplit(delimiter, 1)[-1] if delimiter else path
    return Folder(account.name, path, name, section, owner, delimiter, (), None, rights, True)


def locate(conn: ImapConnection, account: Account, mailbox: str, kind: str) -> DeskFolder:
    """The ``kind`` folder belonging to ``mailbox`` (any mailbox of the owner), with current rights."""
    base = resolve_folder(conn, account, mailbox)
    namespaces = namespaces_of(conn)
    root = _owner_root(base, namespaces)
    owner = _owner_words(base)
    what = _WHAT[kind]
    for path in _candidates(base, root, kind):
        found = _find(conn, account, path, base.delimiter)
        if found is not None and found.selectable:
            reason = "" if "i" in found.rights else (
                f"You may not add {what} to {mailbox_label(found)}: {access_summary(found.rights)}."
            )
            return DeskFolder(kind, owner, found, reason=reason, delimiter=found.delimiter)
    delim = base.delimiter or "/"
    if base.section is Section.PERSONAL and account.kind != "shared" and root is not None:
        return DeskFolder(kind, owner, None, create_path=root + kind, delimiter=base.delimiter)
    anchor = None
    if root is not None:
        anchor = lookup_folder(conn.client, account, root + "INBOX", namespaces)
    anchor = anchor if anchor is not None and anchor.selectable else base
    if "k" in anchor.rights:
        return DeskFolder(kind, owner, None, create_path=anchor.path + delim + kind, delimiter=base.delimiter)
    return DeskFolder(
        kind, owner, None,
        reason=(
            f"There is no {kind} folder you may use in {owner} yet, and you may not create one: that needs the right "
            f"“k” (create folders) on {mailbox_label(anchor)}, where {access_summary(anchor.rights)}."
        ),
    )  # fmt: skip


def ensure(conn: ImapConnection, account: Account, desk: DeskFolder) -> Folder:
    """The folder to add to, creating it when allowed; PermissionDenied with the reason otherwise."""
    if desk.reason:
        raise PermissionDenied(desk.reason)
    if desk.folder is not None:
        return desk.folder
    path = desk.create_path
    try:
        conn.client.create_folder(path)
    except imaplib.IMAP4.abort:
        raise
    except IMAPClientError as exc:
        text = server_text(exc)
        if "ALREADYEXISTS" not in text.upper() and "already exists" not in text.lower():  # a teammate was faster
            if "NOPERM" in text.upper() or "ermission denied" in text:
                raise PermissionDenied(
                    f"The server did not let you create the {desk.kind} folder in {desk.owner} (no permission)."
                ) from None
            raise ProtocolError(f"Could not create the {desk.kind} folder {path}: {server_reason(exc)}.") from None
    log.info("created %s", path)
    try:
        conn.client.subscribe_folder(path)
    except IMAPClientError:  # a convenience for other clients only
        log.debug("subscribing %s failed", path, exc_info=True)
    folder = _find(conn, account, path, desk.delimiter)
    if folder is None or "i" not in folder.rights:
        rights = folder.rights if folder is not None else ""
        raise PermissionDenied(
            f"The {desk.kind} folder {path} was created, but you may not add to it: {access_summary(rights)}."
        )
    return folder


MAX_ITEMS = 1000  # templates or notes read at once; a desk with more has a different problem
_CHUNK = 100


def fetch_messages(conn: ImapConnection, folder: Folder, criteria: list[object]) -> list[tuple[int, bytes]]:
    """(uid, raw) of the messages matching ``criteria`` (newest last), read with BODY.PEEK (no \\Seen)."""
    from sharedclient.core.imap.sync import examine  # noqa: PLC0415 - sync imports much; only needed here

    if "r" not in folder.rights:
        raise PermissionDenied(f"You may not read {mailbox_label(folder)}: {access_summary(folder.rights)}.")
    examine(conn, folder.path)
    try:
        uids = sorted(int(u) for u in conn.client.search(["NOT", "DELETED", *criteria], charset="UTF-8"))[-MAX_ITEMS:]
        out: list[tuple[int, bytes]] = []
        for start in range(0, len(uids), _CHUNK):
            chunk = uids[start : start + _CHUNK]
            data = conn.client.fetch(chunk, [b"BODY.PEEK[]"])
            out += [(uid, bytes(data[uid][b"BODY[]"])) for uid in chunk if uid in data and b"BODY[]" in data[uid]]
    except imaplib.IMAP4.abort:
        raise
    except IMAPClientError as exc:
        raise ProtocolError(f"Could not read {mailbox_label(folder)}: {server_reason(exc)}.") from None
    return out


def append_message(conn: ImapConnection, folder: Folder, raw: bytes, keyword: str) -> int | None:
    """APPEND ``raw`` as \\Seen with ``keyword``; the new UID when the server says (UIDPLUS).

    Dovecot quietly drops flags the user may not set (``w``/``s``), so the header, not the keyword,
    is what marks the message; the keyword helps other clients' filters.
    """
    try:
        response = conn.client.append(folder.path, raw, flags=(b"\\Seen", keyword.encode("ascii")))
    except imaplib.IMAP4.abort:
        raise
    except IMAPClientError as exc:
        text = server_text(exc)
        if "NOPERM" in text.upper() or "ermission denied" in text:
            where = mailbox_label(folder)
            raise PermissionDenied(f"The server did not let you add to {where} (no permission).") from None
        raise ProtocolError(f"Could not add to {mailbox_label(folder)}: {server_reason(exc)}.") from None
    text = response.decode("ascii", "replace") if isinstance(response, bytes) else str(response)
    parts = text.split("[APPENDUID ", 1)
    if len(parts) == 2:
        try:
            return int(parts[1].split("]", 1)[0].split()[1])
        except (IndexError, ValueError):
            return None
    return None
