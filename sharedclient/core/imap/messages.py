"""Per-message IMAP operations: fetch a body, change flags. Run on the account's worker thread."""

from __future__ import annotations

from imapclient.exceptions import IMAPClientError

from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.errors import NotFoundError, PermissionDenied, ProtocolError
from sharedclient.core.imap.session import server_text
from sharedclient.core.imap.sync import examine


def _select(conn: ImapConnection, path: str, readonly: bool) -> None:
    if conn.selected == (path, readonly):
        return
    if readonly:
        examine(conn, path)
        return
    conn.selected = None
    try:
        conn.client.select_folder(path)
    except IMAPClientError as exc:
        raise PermissionDenied(f"You cannot change messages in “{path}” ({server_text(exc)}).") from None
    conn.selected = (path, readonly)


def fetch_body(conn: ImapConnection, path: str, uid: int) -> bytes:
    """The whole raw message, without setting \\Seen (BODY.PEEK)."""
    _select(conn, path, readonly=True)
    data = conn.client.fetch([uid], [b"BODY.PEEK[]"])
    item = data.get(uid)
    if item is None or b"BODY[]" not in item:
        raise NotFoundError(f"Message {uid} is no longer in “{path}” (deleted or moved by someone else).")
    return bytes(item[b"BODY[]"])


def set_flags(conn: ImapConnection, path: str, uids: list[int], flags: list[str], add: bool) -> None:
    _select(conn, path, readonly=False)
    try:
        if add:
            conn.client.add_flags(uids, flags, silent=True)
        else:
            conn.client.remove_flags(uids, flags, silent=True)
    except IMAPClientError as exc:
        text = server_text(exc)
        if "NOPERM" in text or "ermission" in text:
            raise PermissionDenied(f"The server did not allow changing flags in “{path}”: {text}.") from None
        raise ProtocolError(f"Changing flags in “{path}” failed: {text}.") from None
