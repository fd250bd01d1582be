"""Claiming a message in a shared mailbox: "I am answering this one", as team state over plain IMAP.

A claim is a keyword naming the person (``$Claimed-alice``); keywords are shared in shared mailboxes, so
every teammate's list shows who holds the message. With CONDSTORE (RFC 7162) the claim is a compare-and-set:
``UID STORE <uid> (UNCHANGEDSINCE <modseq>) +FLAGS ($Claimed-alice)`` succeeds only if nobody changed the
message's flags since we read them, so of two people claiming at once exactly one wins; the other gets
``[MODIFIED]`` and is told who holds it. Without CONDSTORE we store, read back, and withdraw our keyword
if another claim appeared (at most one wins; rarely neither — safe, and the person may try again).

Needs the ``w`` right and a mailbox whose PERMANENTFLAGS contains ``\\*`` (new keywords allowed);
otherwise :func:`claim_unavailable` says why, and the GUI/CLI show that instead of trying.
"""

from __future__ import annotations

import imaplib
import random
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from sharedclient.core.errors import NotFoundError, PermissionDenied, ProtocolError
from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.imap.session import server_reason
from sharedclient.core.imap.sync import _enable_extensions
from sharedclient.core.model import Folder

PREFIX = "$Claimed-"
ATTEMPTS = 5
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def claim_keyword(user: str) -> str:
    """``alice@example.test`` -> ``$Claimed-alice`` (an IMAP atom: only safe characters survive)."""
    local = user.split("@", 1)[0].strip().lower()
    name = _UNSAFE.sub("_", local)
    if not name:
        raise ValueError(f"cannot make a claim keyword from {user!r}")
    return PREFIX + name


def holders(flags: Iterable[str | bytes]) -> list[str]:
    """Who holds a message, from its flags: ``["alice"]``."""
    out = []
    for flag in flags:
        text = flag.decode("utf-8", "replace") if isinstance(flag, bytes) else flag
        if text.lower().startswith(PREFIX.lower()) and len(text) > len(PREFIX):
            out.append(text[len(PREFIX):])
    return sorted(out)


def keyword_label(keyword: str) -> str:
    """How a keyword chip reads in the list: ``$Claimed-bob`` -> "held by bob", ``$label1`` -> "label1"."""
    if keyword.lower().startswith(PREFIX.lower()) and len(keyword) > len(PREFIX):
        return f"held by {keyword[len(PREFIX):]}"
    return keyword.lstrip("$")


def claim_unavailable(rights: str, permanent_flags: Iterable[str | bytes] | None) -> str:
    """Why claiming is impossible here ("" when it is possible). ``permanent_flags`` None: not known yet."""
    if "w" not in rights:
        return "You cannot claim messages here: you may not set tags in this mailbox (no “w” right)."
    if permanent_flags is not None:
        names = {f.decode() if isinstance(f, bytes) else f for f in permanent_flags}
        if "\\*" not in names:
            return "You cannot claim messages here: this mailbox does not keep new tags (PERMANENTFLAGS lacks \\*)."
    return ""


@dataclass(frozen=True)
class ClaimResult:
    won: bool
    holders: tuple[str, ...]  # who holds it now
    message: str  # a sentence for the person


def _select_rw(conn: ImapConnection, folder: Folder) -> dict[bytes, object]:
    conn.selected = None
    try:
        info = conn.client.select_folder(folder.path)
    except imaplib.IMAP4.abort:
        raise
    except IMAPClientError as exc:
        raise PermissionDenied(f"You cannot change messages in “{folder.path}”: {server_reason(exc)}.") from None
    conn.selected = (folder.path, False)
    return info


def _flags_and_modseq(conn: ImapConnection, uid: int, condstore: bool) -> tuple[list[str], int | None]:
    items = ["FLAGS", "MODSEQ"] if condstore else ["FLAGS"]
    data = conn.client.fetch([uid], items)
    if uid not in data:
        raise NotFoundError(f"Message {uid} is no longer there (deleted or moved by someone else).")
    flags = [f.decode("utf-8", "replace") if isinstance(f, bytes) else str(f) for f in data[uid].get(b"FLAGS", ())]
    modseq = data[uid].get(b"MODSEQ")
    return flags, (int(modseq[0]) if isinstance(modseq, (tuple, list)) else int(modseq)) if modseq else None


def _conditional_store(conn: ImapConnection, uid: int, modseq: int, op: str, keyword: str) -> bool:
    """``UID STORE uid (UNCHANGEDSINCE modseq) op (keyword)``; False when the server answered [MODIFIED].

    The verdict is in the *tagged* reply ("OK [MODIFIED 7] Conditional store failed"), which imaplib's
    ``uid()`` does not return, hence ``_simple_command``.
    """
    imap = conn.client._imap  # noqa: SLF001 - imapclient has no UNCHANGEDSINCE modifier
    typ, data = imap._simple_command(  # noqa: SLF001
        "UID", "STORE", str(uid), f"(UNCHANGEDSINCE {modseq})", f"{op}FLAGS.SILENT", f"({keyword})"
    )
    imap.untagged_responses.pop("FETCH", None)
    text = b" ".join(d for d in data if isinstance(d, bytes)) if data else b""
    if typ != "OK":
        raise ProtocolError(f"The server refused the claim: {text.decode('utf-8', 'replace')}.")
    return b"[MODIFIED" not in text.upper()


def claim(
    conn: ImapConnection, folder: Folder, uid: int, user: str, *, before_store: Callable[[], object] | None = None
) -> ClaimResult:
    """Claim message ``uid`` for ``user``; exactly one of several simultaneous claimers wins.

    Belt and braces: after a successful STORE the flags are read back, and if another claim landed too
    (a server whose compare-and-set let both through, or no CONDSTORE at all) ours is withdrawn and the
    claim retried after a short random pause — so at most one claim ever stands, and a retry settles it.
    ``before_store`` runs between reading the flags and the first STORE (tests use it to make claims collide).
    """
    reason = claim_unavailable(folder.rights, None)
    if reason:
        raise PermissionDenied(reason)
    condstore, _ = _enable_extensions(conn)
    info = _select_rw(conn, folder)
    reason = claim_unavailable(folder.rights, info.get(b"PERMANENTFLAGS", ()))  # type: ignore[arg-type]
    if reason:
        raise PermissionDenied(reason)
    keyword = claim_keyword(user)
    me = keyword[len(PREFIX):]
    for attempt in range(ATTEMPTS):
        flags, modseq = _flags_and_modseq(conn, uid, condstore)
        held = holders(flags)
        if held == [me]:
            return ClaimResult(True, (me,), "You already hold this message.")
        if held:
            text = "already holds this message" if attempt == 0 else "claimed this message a moment before you"
            return ClaimResult(False, tuple(held), f"{', '.join(held)} {text}.")
        if attempt == 0 and before_store is not None:
            before_store()
        if condstore and modseq is not None:
            if not _conditional_store(conn, uid, modseq, "+", keyword):
                flags, _ = _flags_and_modseq(conn, uid, condstore)
                held = holders(flags)
                if held:
                    return ClaimResult(False, tuple(held), f"{', '.join(held)} claimed this message a moment before you.")
                continue  # another change (say \Seen) moved the MODSEQ: read again and retry
        else:
            conn.client.add_flags([uid], [keyword], silent=True)
        flags, _ = _flags_and_modseq(conn, uid, condstore)
        held = holders(flags)
        if held == [me]:
            return ClaimResult(True, (me,), "You hold this message now; teammates see it as yours.")
        if me not in held:
            raise PermissionDenied("The server did not keep the claim (no permission to set tags here).")
        conn.client.remove_flags([uid], [keyword], silent=True)  # two claims stand: withdraw, then retry
        time.sleep(random.uniform(0.02, 0.2))
    return ClaimResult(False, (), "Several people claimed this message at the same time; please try again.")


def release(conn: ImapConnection, folder: Folder, uid: int, user: str, *, everyone: bool = False) -> tuple[str, ...]:
    """Remove ``user``'s claim (``everyone``: all claims, e.g. a lead freeing a message); returns who held it."""
    reason = claim_unavailable(folder.rights, None)
    if reason:
        raise PermissionDenied(reason.replace("claim", "release"))
    condstore, _ = _enable_extensions(conn)
    _select_rw(conn, folder)
    flags, _ = _flags_and_modseq(conn, uid, condstore)
    held = holders(flags)
    me = claim_keyword(user)[len(PREFIX):]
    if not everyone and held and me not in held:
        raise PermissionDenied(f"{', '.join(held)} holds this message; only they (or --everyone) can release it.")
    drop = [PREFIX + h for h in held] if everyone else ([PREFIX + me] if me in held else [])
    if drop:
        conn.client.remove_flags([uid], drop, silent=True)
    return tuple(held)


def release_after_send(client: IMAPClient, path: str, uid: int, user: str) -> None:
    """Drop the sender's own claim once the reply or forward went out; quietly nothing without the right."""
    try:
        keyword = claim_keyword(user)
        client.select_folder(path)
        flags = client.get_flags([uid]).get(uid, ())
        if keyword.encode() in flags or keyword in flags:
            client.remove_flags([uid], [keyword], silent=True)
    except (IMAPClientError, ValueError, OSError):
        pass
