"""The GUI's view of the accounts: one worker each, state and folder lists as Qt signals."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from sharedclient.core.errors import SharedClientError
from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.imap.discovery import discover_folders
from sharedclient.core.model import Account, Folder
from sharedclient.core.worker import AccountWorker, ConnectionState
from sharedclient.ui.bridge import MainThreadBridge

log = logging.getLogger(__name__)

ConnectFactory = Callable[[Account], Callable[[], ImapConnection]]


class AccountsController(QObject):
    """Owns the account workers; everything it emits arrives on the GUI thread."""

    state_changed = Signal(str, object, str)  # account name, ConnectionState, detail sentence
    folders_changed = Signal(str, object)  # account name, list[Folder]
    problem = Signal(str, str)  # account name, sentence for the user

    def __init__(self, accounts: list[Account], connect_factory: ConnectFactory, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.accounts = {a.name: a for a in accounts}
        self._connect_factory = connect_factory
        self._bridge = MainThreadBridge(self)
        self._workers: dict[str, AccountWorker] = {}
        self.folders: dict[str, list[Folder]] = {}

    def start(self) -> None:
        for account in self.accounts.values():
            self._workers[account.name] = AccountWorker(
                account.name, self._connect_factory(account), on_state=self._state_listener(account.name)
            )
            self.refresh_folders(account.name)

    def _state_listener(self, name: str) -> Callable[[ConnectionState, str], None]:
        def listener(state: ConnectionState, detail: str) -> None:  # runs on the worker thread
            self._bridge.post(lambda: self.state_changed.emit(name, state, detail))

        return listener

    def state(self, name: str) -> ConnectionState:
        worker = self._workers.get(name)
        return worker.state if worker else ConnectionState.IDLE

    def refresh_folders(self, name: str | None = None) -> None:
        """Re-read folders and rights (rights can shrink at any time) for one or all accounts."""
        for account_name in [name] if name else list(self._workers):
            account = self.accounts[account_name]
            future = self._workers[account_name].submit(lambda c, a=account: discover_folders(c.client, a), key="folders")
            self._bridge.when_done(
                future,
                lambda folders, n=account_name: self._set_folders(n, folders),
                lambda err, n=account_name: self._report(n, err),
            )

    def _set_folders(self, name: str, folders: list[Folder]) -> None:
        self.folders[name] = folders
        self.folders_changed.emit(name, folders)

    def _report(self, name: str, err: SharedClientError) -> None:
        log.warning("account %s: %s", name, err.user_message)
        self.problem.emit(name, err.user_message)

    def shutdown(self) -> None:
        for worker in self._workers.values():
            worker.stop()
        self._workers.clear()
