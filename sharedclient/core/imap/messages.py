"""Per-message IMAP operations: fetch a body, change flags, delete, move, copy. Run on the account worker.

Every change checks the rights the server grants *now* (a :class:`Folder` from ``lookup_folder``, whose
``rights`` are MYRIGHTS letters) before touching anything, and turns refusals into one sentence naming
the mailbox the way a desk worker does ("support@example.test's INBOX"). The pre-check matters more
than it looks: Dovecot answers OK to a STORE of flags the user may not set and silently changes nothing.
"""

from __future__ import annotations

import imaplib
from collections.abc import Sequence
from typing import BinaryIO
from dataclasses import dataclass

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from sharedclient.core.errors import NotFoundError, PermissionDenied, ProtocolError, SharedClientError
from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.imap.discovery import NamespaceEntry, lookup_folder, mailbox_label, read_namespaces
from sharedclient.core.imap.fetchparse import uid_ranges
from sharedclient.core.imap.rights import require_rights
from sharedclient.core.imap.session import server_reason, server_text
from sharedclient.core.imap.sync import examine
from sharedclient.core.model import Account, Folder, Section

SEEN = "\\Seen"
FLAGGED = "\\Flagged"
DELETED = "\\Deleted"
#: Names a Trash folder goes by where the server does not mark it \Trash (Dovecot marks special-use
#: only in the personal namespace, so a shared mailbox's Trash is found by name).
TRASH_NAMES = ("trash", "deleted items", "deleted messages", "deleted", "bin", "papierkorb", "corbeille", "papelera")


@dataclass(frozen=True)
class DeleteOutcome:
    """What a delete did, so the user can be told (and the GUI can offer "undo" from Trash)."""

    uids: tuple[int, ...]
    where: str  # mailbox label, e.g. "support@example.test's INBOX"
    moved_to: Folder | None  # the Trash it went to; None when removed for good


def _select(conn: ImapConnection, path: str, readonly: bool) -> None:
    if conn.selected == (path, readonly):
        return
    if readonly:
        examine(conn, path)
        return
    conn.selected = None
    try:
        conn.client.select_folder(path)
    except imaplib.IMAP4.abort:
        raise
    except IMAPClientError as exc:
        raise PermissionDenied(f"You cannot change messages in “{path}”: {server_reason(exc)}.") from None
    conn.selected = (path, readonly)


def fetch_body(conn: ImapConnection, path: str, uid: int) -> bytes:
    """The whole raw message, without setting \\Seen (BODY.PEEK)."""
    _select(conn, path, readonly=True)
    data = conn.client.fetch([uid], [b"BODY.PEEK[]"])
    item = data.get(uid)
    if item is None or b"BODY[]" not in item:
        raise NotFoundError(f"Message {uid} is no longer in “{path}” (deleted or moved by someone else).")
    return bytes(item[b"BODY[]"])


def _partial(item: dict[bytes, object]) -> bytes | None:
    for key, value in item.items():  # imapclient names a partial body b"BODY[]<0>"
        if key.startswith(b"BODY[]"):
            return bytes(value) if value is not None else b""  # type: ignore[arg-type]
    return None


def fetch_prefix(conn: ImapConnection, path: str, uid: int, limit: int) -> tuple[bytes, int]:
    """The first ``limit`` bytes of a message and its whole size: a huge message is never read whole."""
    _select(conn, path, readonly=True)
    item = conn.client.fetch([uid], [b"RFC822.SIZE", f"BODY.PEEK[]<0.{limit}>".encode()]).get(uid)
    data = _partial(item) if item is not None else None
    if item is None or data is None:
        raise NotFoundError(f"Message {uid} is no longer in “{path}” (deleted or moved by someone else).")
    return data, int(item.get(b"RFC822.SIZE", len(data)))  # type: ignore[call-overload]


def copy_to_file(conn: ImapConnection, path: str, uid: int, out: BinaryIO, chunk: int = 1 << 20) -> int:
    """Write the raw message to ``out`` in ``chunk``-sized partial fetches; return the bytes written."""
    _select(conn, path, readonly=True)
    offset = 0
    while True:
        item = conn.client.fetch([uid], [f"BODY.PEEK[]<{offset}.{chunk}>".encode()]).get(uid)
        data = _partial(item) if item is not None else None
        if data is None:
            raise NotFoundError(f"Message {uid} is no longer in “{path}” (deleted or moved by someone else).")
        out.write(data)
        offset += len(data)
        if len(data) < chunk:
            return offset


# -- looking things up ---------------------------------------------------------------------------


def namespaces_of(conn: ImapConnection) -> list[NamespaceEntry]:
    if conn.namespaces is None:
        conn.namespaces = read_namespaces(conn.client)
    return conn.namespaces


def resolve_folder(conn: ImapConnection, account: Account, path: str, *, counts: bool = False) -> Folder:
    """The mailbox with its current rights, or NotFoundError in one sentence."""
    folder = lookup_folder(conn.client, account, path, namespaces_of(conn), counts=counts)
    if folder is None or not folder.selectable:
        raise NotFoundError(
            f"There is no mailbox “{path}” in account “{account.name}” that you may open "
            "(sharedclient mailboxes lists them)."
        )
    return folder


def find_trash(conn: ImapConnection, account: Account, folder: Folder) -> Folder | None:
    """The Trash that belongs to ``folder``'s owner: a shared mailbox's own Trash, never the user's.

    Deleting from support@'s INBOX should land in support@'s Trash, where teammates can still find and
    restore it, not in the personal Trash of whoever clicked. Public folders have no Trash.
    """
    if folder.section is Section.PUBLIC:
        return None
    root = _owner_root(folder, namespaces_of(conn))
    if root is None:
        return None
    candidates = []
    for flags, _delim, name in conn.client.list_folders(root, "%"):
        path = name.decode() if isinstance(name, bytes) else name
        leaf = path[len(root) :]
        marked = any((f.decode() if isinstance(f, bytes) else f) == "\\Trash" for f in flags)
        if marked or leaf.lower() in TRASH_NAMES:
            candidates.append((not marked, TRASH_NAMES.index(leaf.lower()) if leaf.lower() in TRASH_NAMES else 0, path))
    for _, _, path in sorted(candidates):
        trash = lookup_folder(conn.client, account, path, namespaces_of(conn))
        if trash is not None and trash.selectable:
            return trash
    return None


def _owner_root(folder: Folder, namespaces: list[NamespaceEntry]) -> str | None:
    """The path prefix under which the owner's folders live ("shared/support@x/", or "" personally)."""
    delim = folder.delimiter or ""
    for entry in namespaces:
        if not folder.path.startswith(entry.prefix) and folder.path + delim != entry.prefix:
            continue
        if entry.section is Section.SHARED and folder.owner and entry.prefix:
            root = entry.prefix + folder.owner
            return root + delim if delim else None
        if entry.section is Section.PERSONAL:
            return entry.prefix
        return None
    return ""


def _existing(conn: ImapConnection, folder: Folder, uids: Sequence[int]) -> list[int]:
    """The UIDs that are still there; NotFoundError when none is (a teammate moved them meanwhile)."""
    if not uids:
        raise NotFoundError("No message was given.")
    found = set(conn.client.search(["UID", uid_ranges(sorted(set(uids)))]))
    present = [u for u in uids if u in found]
    if not present:
        which = f"Message {uids[0]} is" if len(uids) == 1 else "None of these messages is"
        raise NotFoundError(
            f"{which} no longer in {mailbox_label(folder)} (deleted or moved by someone else, or a wrong UID)."
        )
    return present


def _refusal(exc: IMAPClientError, what: str) -> SharedClientError:
    """A NO from the server as a sentence; ``what`` completes "You may not …" / "Could not …"."""
    text = server_text(exc)
    if "[NOPERM]" in text or "ermission denied" in text:
        return PermissionDenied(f"You may not {what}: the server refused it (no permission).")
    if "[TRYCREATE]" in text or "[NONEXISTENT]" in text:
        return NotFoundError(f"Could not {what}: that mailbox no longer exists.")
    if "[OVERQUOTA]" in text or "quota" in text.lower():
        return ProtocolError(f"Could not {what}: the mailbox is full (over quota).")
    return ProtocolError(f"Could not {what}: the server said “{server_reason(exc)}”.")


# -- flags ---------------------------------------------------------------------------------------


def flag_rights(flags: Sequence[str]) -> str:
    """RFC 4314: \\Seen needs s, \\Deleted needs t, every other flag or keyword needs w."""
    needed = set()
    for flag in flags:
        needed.add("s" if flag.lower() == SEEN.lower() else "t" if flag.lower() == DELETED.lower() else "w")
    return "".join(sorted(needed))


def _flag_phrase(flags: Sequence[str], add: bool) -> str:
    lowered = {f.lower() for f in flags}
    if lowered == {SEEN.lower()}:
        return "mark messages as read" if add else "mark messages as unread"
    if lowered == {FLAGGED.lower()}:
        return "flag messages" if add else "remove flags from messages"
    if lowered == {DELETED.lower()}:
        return "mark messages as deleted" if add else "undelete messages"
    return "tag messages" if add else "remove tags from messages"


def set_flags(
    conn: ImapConnection, folder: Folder, uids: Sequence[int], flags: Sequence[str], add: bool
) -> dict[int, tuple[str, ...]]:
    """Add or remove flags/keywords; return the flags the server now reports, for the UIDs it reported."""
    what = f"{_flag_phrase(flags, add)} in {mailbox_label(folder)}"
    require_rights(folder.rights, flag_rights(flags), what)
    _select(conn, folder.path, readonly=False)
    present = _existing(conn, folder, uids)
    client = conn.client
    try:
        result = (client.add_flags if add else client.remove_flags)(present, list(flags))
    except imaplib.IMAP4.abort:
        raise
    except IMAPClientError as exc:
        raise _refusal(exc, what) from None
    now = {uid: tuple(_str(f) for f in result[uid]) for uid in present if uid in result}
    for have in now.values():
        if any((f in have) != add for f in flags):
            # Dovecot's answer to a STORE the ACL forbids: OK, and the flags unchanged.
            raise PermissionDenied(f"You may not {what}: the server did not apply the change (no permission).")
    return now


def _str(flag: bytes | str) -> str:
    return flag.decode("utf-8", "replace") if isinstance(flag, bytes) else flag


# -- delete, move, copy --------------------------------------------------------------------------


def delete(conn: ImapConnection, folder: Folder, uids: Sequence[int], trash: Folder | None) -> DeleteOutcome:
    """Move to the owner's Trash when there is one we may file into; else \\Deleted + UID EXPUNGE.

    A message already in that Trash is removed for good, as in every desktop client.
    """
    where = mailbox_label(folder)
    require_rights(folder.rights, "te", f"delete messages in {where}")
    if trash is not None and trash.path != folder.path and "i" in trash.rights:
        present = transfer(conn, folder, uids, trash, copy=False)
        return DeleteOutcome(tuple(present), where, trash)
    _select(conn, folder.path, readonly=False)
    present = _existing(conn, folder, uids)
    _expunge(conn, folder, present, f"delete messages in {where}")
    return DeleteOutcome(tuple(present), where, None)


def transfer(conn: ImapConnection, folder: Folder, uids: Sequence[int], target: Folder, *, copy: bool) -> list[int]:
    """Copy or move messages to ``target`` (same account); return the UIDs that were there to go.

    MOVE (RFC 6851) where offered, so a teammate never sees the message in both places; otherwise
    COPY, then \\Deleted + UID EXPUNGE of exactly those messages.
    """
    verb = "copy" if copy else "move"
    source, dest = mailbox_label(folder), mailbox_label(target)
    if target.path == folder.path:
        raise ProtocolError(f"The message is already in {dest}.")
    require_rights(target.rights, "i", f"{verb} messages into {dest}")
    require_rights(folder.rights, "r" if copy else "rte", f"{verb} messages out of {source}")
    _select(conn, folder.path, readonly=copy)
    present = _existing(conn, folder, uids)
    client: IMAPClient = conn.client
    what = f"{verb} messages from {source} to {dest}"
    try:
        if copy:
            client.copy(present, target.path)
        elif client.has_capability("MOVE"):
            client.move(present, target.path)
        else:
            client.copy(present, target.path)
            _expunge(conn, folder, present, what)
    except imaplib.IMAP4.abort:
        raise
    except IMAPClientError as exc:
        raise _refusal(exc, what) from None
    return present


def _expunge(conn: ImapConnection, folder: Folder, uids: list[int], what: str) -> None:
    """Remove exactly ``uids``: never a plain EXPUNGE that would also remove what teammates marked."""
    client = conn.client
    try:
        client.add_flags(uids, [DELETED], silent=True)
        if client.has_capability("UIDPLUS"):
            client.uid_expunge(uids)
            return
        others = set(client.search(["DELETED"])) - set(uids)
        if others:
            client.remove_flags(uids, [DELETED], silent=True)
            raise ProtocolError(
                f"Could not {what}: this server cannot remove single messages (no UIDPLUS) and "
                f"{len(others)} other message(s) there are marked as deleted, which would be removed too."
            )
        client.expunge()
    except imaplib.IMAP4.abort:
        raise
    except IMAPClientError as exc:
        raise _refusal(exc, what) from None
