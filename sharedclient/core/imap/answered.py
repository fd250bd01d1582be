"""After a reply or forward: mark the original ``\\Answered`` or ``$Forwarded`` where the rights allow.

Both need the ``w`` right (RFC 4314: flags other than \\Seen and \\Deleted). Checked *before* the STORE
because Dovecot silently ignores flags a user may not set and still answers OK, so the person would never
learn why the mark is missing. ``$Forwarded`` is a keyword: the mailbox must also accept it
(PERMANENTFLAGS lists it or ``\\*``). The result is a sentence for the person, or "" when it worked.
"""

from __future__ import annotations

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.imap.rights import my_rights
from sharedclient.core.imap.session import server_text

FLAGS = {"reply": b"\\Answered", "forward": b"$Forwarded"}


def mark_original(conn: ImapConnection | IMAPClient, path: str, uid: int, kind: str = "reply") -> str:
    """Flag message ``uid`` in ``path``; return "" on success, else why it was not marked.

    Takes the account worker's ImapConnection (its selected-mailbox state is kept right) or a bare IMAPClient.
    """
    client = conn.client if isinstance(conn, ImapConnection) else conn
    flag = FLAGS[kind]
    word = "answered" if kind == "reply" else "forwarded"
    try:
        rights = my_rights(client, path)
        if "w" not in rights:
            return f"The original message in {path} was not marked as {word}: you may not set flags there."
        if isinstance(conn, ImapConnection):
            conn.selected = None  # changes below; the worker re-selects on its next job
        response = client.select_folder(path)
        if isinstance(conn, ImapConnection):
            conn.selected = (path, False)
        permanent = {bytes(f) for f in response.get(b"PERMANENTFLAGS", ())}
        if kind == "forward" and b"\\*" not in permanent and flag not in permanent:
            return f"The original message in {path} was not marked as forwarded: the mailbox does not keep that mark."
        if not client.search(["UID", str(uid)]):
            return f"The original message in {path} was not marked as {word}: it is no longer there."
        client.add_flags([uid], [flag], silent=True)
        return ""
    except IMAPClientError as exc:
        return f"The original message in {path} was not marked as {word}: {server_text(exc)}."
