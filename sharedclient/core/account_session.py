"""One account's worker and header cache: the small surface both the CLI and the GUI use.

Every method returns a ``Future`` and never blocks the caller; work runs on the account's worker thread,
which owns the IMAP connection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future

from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.imap.discovery import discover_folders
from sharedclient.core.imap.messages import fetch_body, set_flags
from sharedclient.core.imap.sync import Progress, SyncResult, sync_mailbox
from sharedclient.core.model import Account, Folder
from sharedclient.core.store.cache import HeaderCache
from sharedclient.core.worker import AccountWorker, StateListener


class AccountSession:
    def __init__(
        self,
        account: Account,
        connect: Callable[[], ImapConnection],
        cache: HeaderCache,
        on_state: StateListener | None = None,
    ) -> None:
        self.account = account
        self.cache = cache
        self.worker = AccountWorker(account.name, connect, on_state)

    def folders(self) -> Future[list[Folder]]:
        """NAMESPACE + LIST + MYRIGHTS + STATUS; mailboxes no longer visible leave the cache."""

        def job(conn: ImapConnection) -> list[Folder]:
            folders = discover_folders(conn.client, self.account)
            self.cache.forget_mailboxes_except(f.path for f in folders if f.selectable)
            return folders

        return self.worker.submit(job, key="folders")

    def sync(
        self, path: str, progress: Progress | None = None, cancel: threading.Event | None = None
    ) -> Future[SyncResult]:
        return self.worker.submit(
            lambda conn: sync_mailbox(conn, self.cache, path, progress=progress, cancel=cancel), key=f"sync:{path}"
        )

    def message_body(self, path: str, uid: int) -> Future[bytes]:
        """The raw message: from the cache when fetched before, else from the server (then cached)."""
        mailbox_id = self.cache.mailbox(path).id
        cached = self.cache.body(mailbox_id, uid)
        if cached is not None:
            done: Future[bytes] = Future()
            done.set_result(cached)
            return done

        def job(conn: ImapConnection) -> bytes:
            raw = fetch_body(conn, path, uid)
            self.cache.store_body(mailbox_id, uid, raw)
            return raw

        return self.worker.submit(job)

    def set_flags(self, path: str, uids: list[int], flags: list[str], add: bool) -> Future[None]:
        """Change flags on the server, then in the cache (so the list shows what the server holds)."""

        def job(conn: ImapConnection) -> None:
            set_flags(conn, path, uids, flags, add)
            mailbox_id = self.cache.mailbox(path).id
            current = {uid: set(f) for uid, f in self.cache.flags(mailbox_id, uids)}
            changes = []
            for uid, have in current.items():
                new = have | set(flags) if add else have - set(flags)
                changes.append((uid, tuple(sorted(new)), None))
            self.cache.update_flags(mailbox_id, changes)

        return self.worker.submit(job)

    def close(self) -> None:
        self.worker.stop()
        self.cache.close()
