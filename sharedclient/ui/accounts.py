"""The GUI's view of the accounts: an AccountSession each, results and states as Qt signals.

Everything emitted here arrives on the GUI thread. Connection loss is retried with backoff; rights and
folders are re-read on every resync, because access can be revoked at any time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from sharedclient.core.account_session import AccountSession
from sharedclient.core.auditing import NO_AUDIT, AuditRecorder
from sharedclient.core.errors import NetworkError, SharedClientError
from sharedclient.core.imap.idle import MailboxChange, MailboxWatcher, WatchState
from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.imap.sync import SyncCancelled, SyncResult
from sharedclient.core.model import Account, Folder
from sharedclient.core.store.cache import HeaderCache
from sharedclient.core.worker import ConnectionState
from sharedclient.ui.bridge import MainThreadBridge

log = logging.getLogger(__name__)

ConnectFactory = Callable[[Account], Callable[[], ImapConnection]]
CacheFactory = Callable[[Account], HeaderCache]
RESYNC_INTERVAL_MS = 60_000
BACKOFF_SECONDS = (5, 10, 20, 40, 80, 160, 300)


def memory_cache(_account: Account) -> HeaderCache:
    return HeaderCache(":memory:")


class AccountsController(QObject):
    state_changed = Signal(str, object, str)  # account name, ConnectionState, detail sentence
    folders_changed = Signal(str, object)  # account name, list[Folder]
    problem = Signal(str, str)  # account name, sentence for the user
    sync_progress = Signal(str, str, int, int)  # account, path, done, total
    synced = Signal(str, str, object)  # account, path, SyncResult
    mailbox_changed = Signal(str, str)  # account, path: IDLE saw new mail, expunges or flag changes
    cancelled = Signal(str, str)  # account name, sentence: the user cancelled a sync (not a problem)

    def __init__(
        self,
        accounts: list[Account],
        connect_factory: ConnectFactory,
        cache_factory: CacheFactory = memory_cache,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.accounts = {a.name: a for a in accounts}
        self._connect_factory = connect_factory
        self._cache_factory = cache_factory
        self._bridge = MainThreadBridge(self)
        self.sessions: dict[str, AccountSession] = {}
        self.folders: dict[str, list[Folder]] = {}
        self._failures: dict[str, int] = {}
        self._retry_timers: dict[str, QTimer] = {}
        self._cancels: dict[tuple[str, str], threading.Event] = {}
        self._watchers: dict[tuple[str, str], MailboxWatcher] = {}
        #: Given to every session: logins, reads and changes go to the audit trail; closed on shutdown.
        self.audit: AuditRecorder = NO_AUDIT
        self._interrupted: set[tuple[str, str]] = set()  # syncs cut off by a network failure, resumed when online
        self._watch_offline: set[tuple[str, str]] = set()  # IDLE watches currently reconnecting
        #: Given to every session (``AccountSession.after_sync``): delivery reports found during sync.
        self.after_sync: Callable[[ImapConnection, str, str], None] | None = None
        self._resync = QTimer(self)
        self._resync.setInterval(RESYNC_INTERVAL_MS)
        self._resync.timeout.connect(self.refresh_folders)

    def start(self) -> None:
        for account in self.accounts.values():
            self._start_session(account)
        self._resync.start()

    def add_account(self, account: Account) -> None:
        """An account added while running (Settings → Add Mail Account…) connects like the others."""
        self.accounts[account.name] = account
        self._start_session(account)

    def _start_session(self, account: Account) -> None:
        cache = self._cache_factory(account)
        if cache.rebuilt_notice:
            self.problem.emit(account.name, cache.rebuilt_notice)
        self.sessions[account.name] = AccountSession(
            account, self._connect_factory(account), cache, on_state=self._state_listener(account.name),
            audit=self.audit,
        )
        self.sessions[account.name].after_sync = self.after_sync
        self.refresh_folders(account.name)
        self.watch(account.name, "INBOX")  # new mail in every Inbox shows up at once

    def _state_listener(self, name: str) -> Callable[[ConnectionState, str], None]:
        def listener(state: ConnectionState, detail: str) -> None:  # runs on the worker thread
            self._bridge.post(lambda: self._on_state(name, state, detail))

        return listener

    def _on_state(self, name: str, state: ConnectionState, detail: str) -> None:
        if state is ConnectionState.ONLINE:
            self._failures[name] = 0
            for key in [k for k in self._interrupted if k[0] == name]:  # back online: finish what broke off
                self._interrupted.discard(key)
                self.sync(*key)
        if state is ConnectionState.OFFLINE and name in self.sessions:
            failures = self._failures.get(name, 0)
            delay = BACKOFF_SECONDS[min(failures, len(BACKOFF_SECONDS) - 1)]
            self._failures[name] = failures + 1
            detail = f"{detail} Retrying in {delay} s.".strip()
            self._schedule_retry(name, delay)
            self.state_changed.emit(name, state, detail)
            return
        self.state_changed.emit(name, state, detail)

    def _schedule_retry(self, name: str, delay: int) -> None:
        timer = self._retry_timers.get(name)
        if timer is None:
            timer = QTimer(self)
            timer.setSingleShot(True)
            timer.timeout.connect(lambda n=name: self.refresh_folders(n))
            self._retry_timers[name] = timer
        timer.start(delay * 1000)

    def state(self, name: str) -> ConnectionState:
        session = self.sessions.get(name)
        return session.worker.state if session else ConnectionState.IDLE

    def refresh_folders(self, name: str | None = None) -> None:
        """Re-read folders and rights for one or all accounts."""
        for account_name in [name] if name else list(self.sessions):
            session = self.sessions.get(account_name)
            if session is None:
                continue
            self._bridge.when_done(
                session.folders(),
                lambda folders, n=account_name: self._set_folders(n, folders),
                lambda err, n=account_name: self._report(n, err),
            )

    def sync(self, name: str, path: str) -> None:
        """Sync one mailbox; progress and the result arrive as signals."""
        session = self.sessions.get(name)
        if session is None:
            return
        cancel = self._cancels.setdefault((name, path), threading.Event())
        cancel.clear()

        def progress(done: int, total: int) -> None:  # worker thread
            self._bridge.post(lambda: self.sync_progress.emit(name, path, done, total))

        def failed(err: SharedClientError) -> None:
            if isinstance(err, NetworkError):  # the cache keeps what arrived; the rest comes when back online
                self._interrupted.add((name, path))
            self._report(name, err)

        self._bridge.when_done(
            session.sync(path, progress, cancel),
            lambda result: self._synced(name, path, result),
            failed,
        )

    def watch(self, name: str, path: str) -> None:
        """IDLE on ``path`` (its own connection); a change syncs it and refreshes the counts."""
        session = self.sessions.get(name)
        if session is None or (name, path) in self._watchers:
            return

        def changed(_change: MailboxChange) -> None:  # watcher thread
            self._bridge.post(lambda: self._on_mailbox_changed(name, path))

        def watch_state(state: WatchState, detail: str) -> None:  # watcher thread
            self._bridge.post(lambda: self._on_watch_state(name, path, state, detail))

        self._watchers[(name, path)] = session.watch(path, changed, on_state=watch_state)

    def _on_watch_state(self, name: str, path: str, state: WatchState, detail: str) -> None:
        """A dropped IDLE connection shows as "offline, retrying" too (its own backoff reconnects it)."""
        if name not in self.sessions:
            return
        if state is WatchState.OFFLINE:
            self._watch_offline.add((name, path))
            self.state_changed.emit(name, ConnectionState.OFFLINE, f"New mail in {path} is not watched: {detail}")
        elif state is WatchState.WATCHING and (name, path) in self._watch_offline:
            self._watch_offline.discard((name, path))
            self.state_changed.emit(name, self.state(name), "")

    def unwatch(self, name: str, path: str) -> None:
        watcher = self._watchers.pop((name, path), None)
        if watcher is not None:
            watcher.stop(timeout=0)  # never wait on the GUI thread; it finishes by itself

    def _on_mailbox_changed(self, name: str, path: str) -> None:
        if name in self.sessions:
            self.sync(name, path)
            self.refresh_folders(name)
            self.mailbox_changed.emit(name, path)

    def cancel_sync(self, name: str, path: str) -> None:
        event = self._cancels.get((name, path))
        if event is not None:
            event.set()

    def _synced(self, name: str, path: str, result: SyncResult) -> None:
        self.synced.emit(name, path, result)

    def _set_folders(self, name: str, folders: list[Folder]) -> None:
        self.folders[name] = folders
        self.folders_changed.emit(name, folders)

    def _report(self, name: str, err: SharedClientError) -> None:
        if isinstance(err, SyncCancelled):
            log.info("account %s: %s", name, err.user_message)
            self.cancelled.emit(name, err.user_message)
            return
        log.warning("account %s: %s", name, err.user_message)
        self.problem.emit(name, err.user_message)

    def shutdown(self) -> None:
        self._resync.stop()
        self._watchers.clear()  # session.close() stops them
        for timer in self._retry_timers.values():
            timer.stop()
        for event in self._cancels.values():
            event.set()
        for session in self.sessions.values():
            session.close()
        self.sessions.clear()
        self.audit.close()  # after the sessions (and the send worker, stopped before this) wrote their entries
