"""Header sync of one mailbox into the cache: new messages, flag changes, vanished messages.

Uses QRESYNC/CONDSTORE (RFC 7162) when offered, so a resync of an unchanged mailbox costs one EXAMINE.
New messages are fetched in UID chunks (imapclient >= 4 refuses ``1:*`` and Dovecot caps a command line
at 64 KiB), read by ``fetchstream`` and summarised while the rest of the answer is still arriving.
"""

from __future__ import annotations

import imaplib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from sharedclient.core.errors import PermissionDenied, ProtocolError, SharedClientError
from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.imap.fetchparse import RawFetch, parse_sequence_set, uid_ranges
from sharedclient.core.imap.fetchstream import pipelined_uid_fetch, uid_fetch
from sharedclient.core.imap.headers import LIST_FIELDS, HeaderSummary
from sharedclient.core.imap.summary_pool import MIN_MESSAGES, SummaryPool
from sharedclient.core.imap.session import server_reason, server_text
from sharedclient.core.store.cache import FetchedMessage, HeaderCache

log = logging.getLogger(__name__)

BATCH = 2000
HEADER_ITEM = "BODY.PEEK[HEADER.FIELDS (" + " ".join(LIST_FIELDS) + ")]"
Progress = Callable[[int, int], None]


class SyncCancelled(SharedClientError):
    """The user cancelled; what was fetched so far stays cached and the next sync resumes."""


@dataclass(frozen=True)
class SyncResult:
    path: str
    fetched: int
    updated: int
    vanished: int
    seconds: float
    uidvalidity_reset: bool = False
    total: int = 0


def _enable_extensions(conn: ImapConnection) -> tuple[bool, bool]:
    """ENABLE QRESYNC (or CONDSTORE) once per connection; return (condstore, qresync)."""
    client = conn.client
    if conn.enabled is None:
        qresync = client.has_capability("QRESYNC") and client.has_capability("ENABLE")
        condstore = client.has_capability("CONDSTORE")
        if qresync:
            client.enable("QRESYNC")
            condstore = True
        elif condstore and client.has_capability("ENABLE"):
            client.enable("CONDSTORE")
        conn.enabled = (condstore, qresync)
    return conn.enabled


def examine(conn: ImapConnection, path: str) -> dict[bytes, object]:
    """EXAMINE (read-only SELECT), so syncing never changes \\Seen or anything else."""
    try:
        info = conn.client.select_folder(path, readonly=True)
        conn.selected = (path, True)
        return info
    except imaplib.IMAP4.abort:
        conn.selected = None
        raise  # connection lost: the worker reconnects; not a permission problem
    except IMAPClientError as exc:
        conn.selected = None
        text = server_text(exc)
        if "NOPERM" in text or "NONEXISTENT" in text or "doesn't exist" in text:
            # Dovecot answers the same for "never existed" and "access removed", on purpose.
            raise PermissionDenied(
                f"You can no longer open “{path}”: it does not exist, or your access to it was removed."
            ) from None
        raise ProtocolError(f"The server could not open “{path}”: {server_reason(exc)}.") from None


def sync_mailbox(
    conn: ImapConnection,
    cache: HeaderCache,
    path: str,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    batch: int = BATCH,
) -> SyncResult:
    started = time.monotonic()
    client = conn.client
    condstore, qresync = _enable_extensions(conn)
    info = examine(conn, path)
    uidvalidity = int(info.get(b"UIDVALIDITY", 0))  # type: ignore[call-overload]
    server_modseq = info.get(b"HIGHESTMODSEQ")
    server_modseq = int(server_modseq) if server_modseq is not None and condstore else None  # type: ignore[call-overload]
    exists = int(info.get(b"EXISTS", 0))  # type: ignore[call-overload]

    state = cache.mailbox(path)
    reset = state.uidvalidity is not None and state.uidvalidity != uidvalidity
    if reset:
        log.info("%s: UIDVALIDITY changed %s -> %s, dropping its cache", path, state.uidvalidity, uidvalidity)
        state = cache.reset_mailbox(path, uidvalidity)

    cached_max = cache.max_uid(state.id)
    if server_modseq is not None and state.highestmodseq == server_modseq and cache.count(state.id) == exists:
        cache.mark_synced(state.id, uidvalidity, server_modseq)
        return SyncResult(path, 0, 0, 0, time.monotonic() - started, reset, exists)

    updated = vanished = 0
    if cached_max:
        updated, vanished = _refresh_known(client, cache, state.id, cached_max, state.highestmodseq, condstore, qresync)

    new_uids = [u for u in client.search(["UID", f"{cached_max + 1}:*"]) if u > cached_max] if exists else []
    items = f"(UID FLAGS INTERNALDATE RFC822.SIZE{' MODSEQ' if condstore else ''} {HEADER_ITEM})"
    fetched = 0

    def store(records: list[RawFetch], summaries: Future[list[HeaderSummary]]) -> None:
        nonlocal fetched
        messages = [
            FetchedMessage(r.uid, r.flags or (), r.internaldate, r.size or 0, r.modseq, h)
            for r, h in zip(records, summaries.result())
        ]
        cache.insert_messages(state.id, messages)
        fetched += len(messages)
        if progress is not None:
            progress(fetched, len(new_uids))

    # Pipelined: the server prepares batch n+1 and batch n is summarised (in a helper process for big
    # syncs) while batch n-1 is stored; see fetchstream and summary_pool.
    chunks = [uid_ranges(new_uids[start : start + batch]) for start in range(0, len(new_uids), batch)]
    cancelled = False
    with SummaryPool(parallel=len(new_uids) >= MIN_MESSAGES) as pool:
        pending: tuple[list[RawFetch], Future[list[HeaderSummary]]] | None = None
        answers = pipelined_uid_fetch(client._imap, chunks, items)  # noqa: SLF001 - see fetchstream
        try:
            for records in answers:
                summaries = pool.submit([r.literal or b"" for r in records])
                if pending is not None:
                    done, pending = pending, None
                    store(*done)
                pending = (records, summaries)
                if cancel is not None and cancel.is_set():
                    cancelled = True
                    break
        finally:
            answers.close()  # reads the answer still in flight, if any
            if pending is not None:
                store(*pending)  # what arrived before a failure or a cancel stays cached; the next sync resumes
    if cancelled:
        raise SyncCancelled(f"Sync of “{path}” was cancelled after {fetched} of {len(new_uids)} messages.")

    cache.mark_synced(state.id, uidvalidity, server_modseq)
    return SyncResult(path, fetched, updated, vanished, time.monotonic() - started, reset, cache.count(state.id))


def _refresh_known(
    client: IMAPClient,
    cache: HeaderCache,
    mailbox_id: int,
    cached_max: int,
    since_modseq: int | None,
    condstore: bool,
    qresync: bool,
) -> tuple[int, int]:
    """Flag changes and expunges among the UIDs already cached; returns (updated, vanished)."""
    known = f"1:{cached_max}"
    if qresync and since_modseq:
        client._imap.untagged_responses.pop("VANISHED", None)  # noqa: SLF001
        records = list(uid_fetch(client._imap, known, "(UID FLAGS)", f"(CHANGEDSINCE {since_modseq} VANISHED)"))  # noqa: SLF001
        gone: list[int] = []
        for text in client._imap.untagged_responses.pop("VANISHED", []):  # noqa: SLF001
            text = text.decode() if isinstance(text, bytes) else str(text)
            gone.extend(parse_sequence_set(text.replace("(EARLIER)", "").strip()))
    else:
        modifiers = f"(CHANGEDSINCE {since_modseq})" if condstore and since_modseq else ""
        records = list(uid_fetch(client._imap, known, "(UID FLAGS)", modifiers))  # noqa: SLF001
        on_server = set(client.search(["UID", known]))
        gone = [u for u in cache.uids(mailbox_id) if u not in on_server]
    changes = [(r.uid, r.flags, r.modseq) for r in records if r.flags is not None]
    updated = cache.update_flags(mailbox_id, changes)
    vanished = cache.delete_uids(mailbox_id, gone) if gone else 0
    return updated, vanished


def is_connection_error(exc: BaseException) -> bool:
    return isinstance(exc, (OSError, EOFError, imaplib.IMAP4.abort))
