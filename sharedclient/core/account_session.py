"""One account's worker and header cache: the small surface both the CLI and the GUI use.

Every method returns a ``Future`` and never blocks the caller; work runs on the account's worker thread,
which owns the IMAP connection. Changes check the rights the server grants at that moment (rights can
shrink while the window is open) and refusals arrive as a :class:`PermissionDenied` with one sentence.
After a change succeeds on the server the header cache is updated at once, so the list shows the new
state without waiting for the next sync.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from sharedclient.core.auditing import NO_AUDIT, AuditRecorder
from sharedclient.core.errors import AuthError, PermissionDenied, SharedClientError, StorageError
from sharedclient.core.imap import messages
from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.imap.discovery import discover_folders
from sharedclient.core.imap.idle import RENEW_AFTER, ChangeListener, MailboxWatcher, WatchStateListener
from sharedclient.core.imap.messages import FLAGGED, SEEN, DeleteOutcome, fetch_body, namespaces_of, resolve_folder
from sharedclient.core.imap.sync import examine, Progress, SyncResult, sync_mailbox
from sharedclient.core.model import Account, Folder
from sharedclient.core.store.cache import HeaderCache
from sharedclient.core.worker import STALE_AFTER, AccountWorker, StateListener


@dataclass(frozen=True)
class DisplayBody:
    """The bytes fetched for display; ``raw`` holds only the start of the message when ``total`` is larger."""

    raw: bytes
    total: int

    @property
    def complete(self) -> bool:
        return len(self.raw) >= self.total


class AccountSession:
    def __init__(
        self,
        account: Account,
        connect: Callable[[], ImapConnection],
        cache: HeaderCache,
        on_state: StateListener | None = None,
        *,
        stale_after: float = STALE_AFTER,
        audit: AuditRecorder = NO_AUDIT,
    ) -> None:
        self.account = account
        self.cache = cache
        self._connect = connect
        self.audit = audit  # reads, changes, logins: see core.auditing for the action names
        self._watchers: list[MailboxWatcher] = []
        self._watch_lock = threading.Lock()
        self.worker = AccountWorker(account.name, self._login, on_state, stale_after=stale_after)
        #: Runs on the worker after each sync with (connection, account name, path); must not raise.
        self.after_sync: Callable[[ImapConnection, str, str], None] | None = None

    # -- audit trail -------------------------------------------------------------------------------

    def _login(self) -> ImapConnection:
        """The worker's connection: each login (and each refused one) goes to the audit trail."""
        try:
            conn = self._connect()
        except AuthError as exc:
            self.audit.record("login", account=self.account.name, result="failed",
                              details={"user": self.account.username, "reason": exc.user_message})  # fmt: skip
            raise
        self.audit.record("login", account=self.account.name, details={"user": self.account.username})
        return conn

    def _audited(self, action: str, target: dict[str, object], job, **details: object):  # type: ignore[no-untyped-def]
        """Run ``job(conn)`` and record ``action`` with its outcome (ok, denied or failed)."""

        def run(conn: ImapConnection):  # type: ignore[no-untyped-def]
            try:
                result = job(conn)
            except PermissionDenied as exc:
                self.audit.record(action, account=self.account.name, target=target, result="denied",
                                  details={**details, "reason": exc.user_message})  # fmt: skip
                raise
            except SharedClientError as exc:
                self.audit.record(action, account=self.account.name, target=target, result="failed",
                                  details={**details, "reason": exc.user_message})  # fmt: skip
                raise
            self.audit.record(action, account=self.account.name, target=target, details=details)
            return result

        return run

    def record_opened(self, path: str) -> None:
        """The person opened a mailbox (the window's folder click, the CLI's ``messages``/``sync``)."""
        self.audit.record("mailbox.open", account=self.account.name, target={"mailbox": path})

    # -- reading -----------------------------------------------------------------------------------

    def folders(self) -> Future[list[Folder]]:
        """NAMESPACE + LIST + MYRIGHTS + STATUS; mailboxes no longer readable leave the cache.

        "No longer readable" covers both an unshared mailbox (gone from LIST) and one whose ``r`` right
        was taken away: a former team member must not keep reading the cached copy.
        """

        def job(conn: ImapConnection) -> list[Folder]:
            # Dovecot shows a mailbox shared *after* login only to new sessions, so discovery uses a
            # short-lived connection of its own (still on the worker thread, one job at a time).
            fresh = self._connect()
            try:
                folders = discover_folders(fresh.client, self.account, namespaces_of(fresh))
            finally:
                fresh.close()
            self.cache.forget_mailboxes_except(f.path for f in folders if f.selectable and "r" in f.rights)
            return folders

        return self.worker.submit(job, key="folders")

    def folder(self, path: str, *, counts: bool = False) -> Future[Folder]:
        """One mailbox with its current rights (and counts); NotFoundError when it is not visible."""
        return self.worker.submit(lambda conn: resolve_folder(conn, self.account, path, counts=counts))

    def sync(
        self, path: str, progress: Progress | None = None, cancel: threading.Event | None = None
    ) -> Future[SyncResult]:
        def job(conn: ImapConnection) -> SyncResult:
            result = sync_mailbox(conn, self.cache, path, progress=progress, cancel=cancel)
            if self.after_sync is not None:  # e.g. delivery reports (core.tracking.scan.sync_hook)
                self.after_sync(conn, self.account.name, path)
            return result

        return self.worker.submit(job, key=f"sync:{path}")

    def message_body(self, path: str, uid: int) -> Future[bytes]:
        """The raw message: from the cache when fetched before, else from the server (then cached)."""
        mailbox_id = self.cache.mailbox(path).id
        cached = self.cache.body(mailbox_id, uid)
        if cached is not None:
            self._record_read(path, uid, cached)
            done: Future[bytes] = Future()
            done.set_result(cached)
            return done

        def job(conn: ImapConnection) -> bytes:
            raw = fetch_body(conn, path, uid)
            self.cache.store_body(mailbox_id, uid, raw)
            self._record_read(path, uid, raw)
            return raw

        return self.worker.submit(job)

    def message_for_display(self, path: str, uid: int, size: int, limit: int | None) -> Future[DisplayBody]:
        """What the reading pane shows: the whole message, or only its first ``limit`` bytes when the
        header cache says it is bigger (a 200 MB message must not be held in memory just to be read)."""
        if limit is None or size <= limit:
            whole: Future[DisplayBody] = Future()

            def done(f: Future[bytes]) -> None:
                exc = f.exception()
                if exc is not None:
                    whole.set_exception(exc)
                else:
                    raw = f.result()
                    whole.set_result(DisplayBody(raw, len(raw)))

            self.message_body(path, uid).add_done_callback(done)
            return whole

        def job(conn: ImapConnection) -> DisplayBody:
            prefix, total = messages.fetch_prefix(conn, path, uid, limit)
            self._record_read(path, uid, prefix)
            return DisplayBody(prefix, total)

        return self.worker.submit(job)

    def save_message(self, path: str, uid: int, target: Path) -> Future[Path]:
        """Stream the raw message into the new file ``target`` in 1 MB pieces (never overwrites)."""

        def job(conn: ImapConnection) -> Path:
            try:
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
            except OSError as exc:
                raise StorageError(f"Could not save the message as {target}: {exc.strerror or exc}.") from exc
            try:
                with os.fdopen(fd, "wb") as out:
                    messages.copy_to_file(conn, path, uid, out)
            except BaseException:
                target.unlink(missing_ok=True)
                raise
            return target

        return self.worker.submit(job)

    def _record_read(self, path: str, uid: int, raw: bytes) -> None:
        target = {"mailbox": path, "uid": uid, "message_id": message_id_of(raw)}
        self.audit.record("message.read", account=self.account.name, target=target)

    # -- changing ----------------------------------------------------------------------------------

    def set_flags(
        self, path: str, uids: Sequence[int], flags: Sequence[str], add: bool
    ) -> Future[dict[int, tuple[str, ...]]]:
        """Add/remove flags or keywords (``s`` for \\Seen, ``t`` for \\Deleted, ``w`` for the rest).

        Resolves to the flags each message now has; the cache holds the same.
        """

        def job(conn: ImapConnection) -> dict[int, tuple[str, ...]]:
            folder = resolve_folder(conn, self.account, path)
            reported = messages.set_flags(conn, folder, uids, flags, add)
            mailbox_id = self.cache.mailbox(path).id
            now = dict(reported)
            for uid, have in self.cache.flags(mailbox_id, list(uids)):
                if uid not in now:  # the server did not echo it: apply the change to what we had
                    now[uid] = tuple(sorted(set(have) | set(flags) if add else set(have) - set(flags)))
            self.cache.update_flags(mailbox_id, [(uid, f, None) for uid, f in now.items()])
            return now

        target = {"mailbox": path, "uids": list(uids)}
        return self.worker.submit(self._audited("message.flags", target, job, flags=list(flags), add=add))

    def mark_read(self, path: str, uids: Sequence[int], read: bool = True) -> Future[dict[int, tuple[str, ...]]]:
        return self.set_flags(path, uids, [SEEN], read)

    def flag(self, path: str, uids: Sequence[int], flagged: bool = True) -> Future[dict[int, tuple[str, ...]]]:
        return self.set_flags(path, uids, [FLAGGED], flagged)

    def delete(self, path: str, uids: Sequence[int]) -> Future[DeleteOutcome]:
        """To the owner's Trash when there is one we may file into, else removed for good (see messages)."""

        def job(conn: ImapConnection) -> DeleteOutcome:
            folder = resolve_folder(conn, self.account, path)
            may_delete = {"t", "e"} <= set(folder.rights)  # else delete() refuses; skip the Trash lookup
            trash = messages.find_trash(conn, self.account, folder) if may_delete else None
            outcome = messages.delete(conn, folder, uids, trash)
            self.cache.delete_uids(self.cache.mailbox(path).id, outcome.uids)
            return outcome

        return self.worker.submit(self._audited("message.delete", {"mailbox": path, "uids": list(uids)}, job))

    def move(self, path: str, uids: Sequence[int], target: str) -> Future[list[int]]:
        """Move to another mailbox of this account; resolves to the UIDs that were moved."""
        return self._transfer(path, uids, target, copy=False)

    def copy(self, path: str, uids: Sequence[int], target: str) -> Future[list[int]]:
        return self._transfer(path, uids, target, copy=True)

    def _transfer(self, path: str, uids: Sequence[int], target: str, *, copy: bool) -> Future[list[int]]:
        def job(conn: ImapConnection) -> list[int]:
            folder = resolve_folder(conn, self.account, path)
            dest = resolve_folder(conn, self.account, target)
            done = messages.transfer(conn, folder, uids, dest, copy=copy)
            if not copy:
                self.cache.delete_uids(self.cache.mailbox(path).id, done)
            return done

        action = "message.copy" if copy else "message.move"
        return self.worker.submit(self._audited(action, {"mailbox": path, "uids": list(uids)}, job, to=target))

    # -- watching ----------------------------------------------------------------------------------

    def search_text(self, path: str, text: str) -> Future[list[int]]:
        """UIDs whose text (headers and body) contains ``text``: IMAP SEARCH TEXT, done by the server,
        because bodies are not cached in bulk."""

        def job(conn: ImapConnection) -> list[int]:
            examine(conn, path)
            return sorted(int(uid) for uid in conn.client.search(["TEXT", text], charset="UTF-8"))

        return self.worker.submit(job, key=f"search:{path}")

    def watch(
        self,
        path: str,
        on_change: ChangeListener,
        *,
        on_state: WatchStateListener | None = None,
        renew_after: float = RENEW_AFTER,
    ) -> MailboxWatcher:
        """Start IDLE on ``path`` over a connection of its own; stop it with ``watcher.stop()``.

        ``on_change`` runs on the watcher's thread: the GUI posts it to the main thread and syncs.
        """
        watcher = MailboxWatcher(
            self._connect, path, on_change, on_state=on_state, renew_after=renew_after, name=self.account.name
        )
        with self._watch_lock:
            self._watchers = [w for w in self._watchers if w.running]
            self._watchers.append(watcher)
        return watcher.start()

    def close(self) -> None:
        with self._watch_lock:
            watchers, self._watchers = self._watchers, []
        for watcher in watchers:
            watcher.stop()
        self.worker.stop()
        self.cache.close()


def message_id_of(raw: bytes) -> str:
    """The Message-ID from the raw header (cheap: no full parse), "" when there is none."""
    header = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    match = re.search(rb"^message-id:[ \t]*(?:\r?\n[ \t]+)?(<[^>\r\n]{1,250}>)", header, re.I | re.M)
    return match.group(1).decode("ascii", "replace") if match else ""
