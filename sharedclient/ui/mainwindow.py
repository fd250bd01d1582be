"""The main window: folder pane, (later) message list and reading pane, per-account status."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QSplitter, QWidget

from sharedclient.core.imap.rights import describe_rights
from sharedclient.core.model import Account, Folder
from sharedclient.core.worker import ConnectionState
from sharedclient.ui.accounts import AccountsController
from sharedclient.ui.folderpane import FolderPane

_STATE_COLOURS = {
    ConnectionState.ONLINE: "#2e7d32",
    ConnectionState.CONNECTING: "#f9a825",
    ConnectionState.AUTH_FAILED: "#c62828",
    ConnectionState.TLS_FAILED: "#c62828",
    ConnectionState.OFFLINE: "#757575",
    ConnectionState.IDLE: "#757575",
}


class AccountStatus(QLabel):
    """"● alice@example.test: online" in the status bar; the detail sentence as tooltip."""

    def __init__(self, account: Account, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.account = account
        self.setObjectName(f"status-{account.name}")
        self.show_state(ConnectionState.IDLE, "")

    def show_state(self, state: ConnectionState, detail: str) -> None:
        self.state = state
        colour = _STATE_COLOURS[state]
        self.setText(f'<span style="color:{colour}">●</span> {self.account.email}: {state.value}')
        self.setToolTip(detail or f"{self.account.email} is {state.value}")
        self.setAccessibleName(f"{self.account.email}: {state.value}")


class MainWindow(QMainWindow):
    def __init__(self, controller: AccountsController, profile_name: str) -> None:
        super().__init__()
        self.controller = controller
        self.setWindowTitle(f"SharedClient — {profile_name}")
        self.resize(1100, 700)

        self.folder_pane = FolderPane()
        self.placeholder = QLabel(self.tr("Choose a mailbox on the left."))
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.folder_pane)
        splitter.addWidget(self.placeholder)
        splitter.setSizes([320, 780])
        self.setCentralWidget(splitter)

        self.status_labels: dict[str, AccountStatus] = {}
        for account in controller.accounts.values():
            label = AccountStatus(account)
            self.status_labels[account.name] = label
            self.statusBar().addPermanentWidget(label)
        if not controller.accounts:
            self.statusBar().showMessage(self.tr("No accounts yet: add one with “sharedclient account add”."))

        refresh = QAction(self.tr("&Get Mail"), self)
        refresh.setShortcut(QKeySequence(Qt.Key.Key_F5))
        refresh.triggered.connect(lambda: controller.refresh_folders())
        self.menuBar().addMenu(self.tr("&File")).addAction(refresh)

        controller.state_changed.connect(self._on_state)
        controller.folders_changed.connect(self._on_folders)
        controller.problem.connect(lambda _name, text: self.statusBar().showMessage(text, 15000))
        self.folder_pane.folder_selected.connect(self._on_folder_selected)

    def _on_state(self, name: str, state: ConnectionState, detail: str) -> None:
        self.status_labels[name].show_state(state, detail)

    def _on_folders(self, name: str, folders: list[Folder]) -> None:
        self.folder_pane.set_account_folders(name, self.controller.accounts[name].email, folders)

    def _on_folder_selected(self, folder: Folder) -> None:
        where = f"shared mailbox {folder.owner}" if folder.owner else folder.section.value
        self.placeholder.setText(
            f"<b>{folder.name}</b> ({where})<br>{folder.total} messages, {folder.unread} unread<br>"
            f"You may: {describe_rights(folder.rights)}"
        )

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self.controller.shutdown()
        super().closeEvent(event)
