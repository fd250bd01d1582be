"""The main window: folders | message list over reading pane, per-account status, sync progress."""

from __future__ import annotations

import html
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QInputDialog,
    QCheckBox,
    QHBoxLayout,
    QFileDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from sharedclient.core.errors import SharedClientError
from sharedclient.core.mime.filenames import save_attachment
from sharedclient.core.mime.render import Attachment, attachment_payload
from sharedclient.core.remote import fetch_images
from sharedclient.core.imap.messages import DeleteOutcome
from sharedclient.core.imap.rights import describe_rights, is_read_only
from sharedclient.core.imap.sync import SyncResult
from sharedclient.core.model import Account, Folder, Section
from sharedclient.core.worker import ConnectionState
from sharedclient.ui.accounts import AccountsController
from sharedclient.ui.actions import allowed
from sharedclient.ui.folderpane import FolderPane
from sharedclient.ui.messagelist import ROW_ROLE, MessageListModel, MessageListView
from sharedclient.ui.messageview import MessageView
from sharedclient.ui.sending import SendController

log = logging.getLogger(__name__)

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
        text = state.value
        if state is ConnectionState.OFFLINE and "Retrying in" in detail:
            text = "offline, retrying in " + detail.rsplit("Retrying in ", 1)[1].rstrip(".")
        self.setText(f'<span style="color:{colour}">●</span> {self.account.email}: {text}')
        self.setToolTip(detail or f"{self.account.email} is {state.value}")
        self.setAccessibleName(f"{self.account.email}: {text}")


class MainWindow(QMainWindow):
    def __init__(self, controller: AccountsController, profile_name: str) -> None:
        super().__init__()
        self.controller = controller
        self.current: Folder | None = None
        self.sending: SendController | None = None  # set by build_window when the profile can send
        self._opened_first = False
        self._remote_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="remote-images")
        self.setWindowTitle(f"SharedClient — {profile_name}")
        self.resize(1200, 760)

        self.folder_pane = FolderPane()
        self.search = QLineEdit()
        self.search.setObjectName("searchBox")
        self.search.setPlaceholderText(self.tr("Search sender, recipients, subject…"))
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(lambda _: self._search_timer.start())
        self.server_search = QCheckBox(self.tr("Search message text on the server"))
        self.server_search.setObjectName("serverSearch")
        self.server_search.toggled.connect(lambda _: self._search_timer.start())
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(300)
        self._search_timer.timeout.connect(self._run_search)
        self.folder_banner = QLabel(self.tr("Choose a mailbox on the left."))
        self.folder_banner.setObjectName("folderBanner")
        self.folder_banner.setWordWrap(True)
        self.model = MessageListModel(self)
        self.list_view = MessageListView(self.model)
        self.list_view.selectionModel().currentRowChanged.connect(self._on_message_selected)
        self.view = MessageView()
        self.view.show_source_requested.connect(self._show_source)
        self.view.load_remote_requested.connect(self._load_remote)
        self.view.save_attachment_requested.connect(self._save_attachment)
        self.choose_folder = lambda: QFileDialog.getExistingDirectory(self, self.tr("Save attachment in"))

        list_box = QWidget()
        list_layout = QVBoxLayout(list_box)
        list_layout.setContentsMargins(0, 0, 0, 0)
        list_layout.addWidget(self.folder_banner)
        search_row = QHBoxLayout()
        search_row.addWidget(self.search, 1)
        search_row.addWidget(self.server_search)
        list_layout.addLayout(search_row)
        list_layout.addWidget(self.list_view, 1)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(list_box)
        right.addWidget(self.view)
        right.setSizes([330, 430])
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.folder_pane)
        splitter.addWidget(right)
        splitter.setSizes([300, 900])
        self.setCentralWidget(splitter)

        self._build_actions()
        self._build_status_bar()

        controller.state_changed.connect(self._on_state)
        controller.folders_changed.connect(self._on_folders)
        controller.problem.connect(self._on_problem)
        controller.sync_progress.connect(self._on_progress)
        controller.synced.connect(self._on_synced)
        self.folder_pane.folder_selected.connect(self.open_folder)
        self._update_actions()

    # -- construction ----------------------------------------------------------------------------

    def _build_actions(self) -> None:
        toolbar = QToolBar(self.tr("Main"))
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        self.addToolBar(toolbar)
        self.refresh_action = QAction(self.tr("Get Mail"), self)
        self.refresh_action.setShortcut(QKeySequence(Qt.Key.Key_F5))
        self.refresh_action.triggered.connect(self.refresh)
        self.read_action = QAction(self.tr("Mark Read/Unread"), self)
        self.read_action.setShortcut(QKeySequence(Qt.Key.Key_M))
        self.read_action.triggered.connect(lambda: self._toggle_flag("\\Seen", "toggle_read"))
        self.flag_action = QAction(self.tr("Flag"), self)
        self.flag_action.setShortcut(QKeySequence(Qt.Key.Key_S))
        self.flag_action.triggered.connect(lambda: self._toggle_flag("\\Flagged", "toggle_flag"))
        self.delete_action = QAction(self.tr("Delete"), self)
        self.delete_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        self.delete_action.triggered.connect(self._delete)
        self.move_action = QAction(self.tr("Move to…"), self)
        self.move_action.setShortcut(QKeySequence("Ctrl+Shift+M"))
        self.move_action.triggered.connect(lambda: self._transfer(copy=False))
        self.copy_action = QAction(self.tr("Copy to…"), self)
        self.copy_action.triggered.connect(lambda: self._transfer(copy=True))
        find = QAction(self.tr("Search"), self)
        find.setShortcuts([QKeySequence(QKeySequence.StandardKey.Find), QKeySequence("Ctrl+K")])
        find.triggered.connect(lambda: self.search.setFocus())
        self.addAction(find)
        for action in (self.refresh_action, self.read_action, self.flag_action, self.delete_action):
            toolbar.addAction(action)
        self.new_action = QAction(self.tr("&New Message"), self)
        self.new_action.setShortcut(QKeySequence("Ctrl+N"))
        self.new_action.triggered.connect(self._new_message)
        self.reply_action = QAction(self.tr("&Reply"), self)
        self.reply_action.setShortcut(QKeySequence("Ctrl+R"))
        self.reply_action.triggered.connect(lambda: self._reply())
        self.reply_all_action = QAction(self.tr("Reply &All"), self)
        self.reply_all_action.setShortcut(QKeySequence("Ctrl+Shift+R"))
        self.reply_all_action.triggered.connect(lambda: self._reply(reply_all=True))
        self.forward_action = QAction(self.tr("&Forward"), self)
        self.forward_action.setShortcut(QKeySequence("Ctrl+L"))
        self.forward_action.triggered.connect(lambda: self._reply(forward=True))
        self.history_action = QAction(self.tr("Sent-as &History"), self)
        self.history_action.setShortcut(QKeySequence("Ctrl+Shift+H"))
        self.history_action.triggered.connect(self._show_history)
        for action in (self.new_action, self.reply_action, self.reply_all_action, self.forward_action):
            toolbar.insertAction(self.read_action, action)
        toolbar.insertSeparator(self.read_action)
        menu = self.menuBar().addMenu(self.tr("&File"))
        menu.addAction(self.new_action)
        menu.addAction(self.refresh_action)
        menu.addAction(self.history_action)
        self.identities_action = QAction(self.tr("&Identities…"), self)
        self.identities_action.triggered.connect(self._show_identities)
        menu.addAction(self.identities_action)
        message_menu = self.menuBar().addMenu(self.tr("&Message"))
        for action in (self.reply_action, self.reply_all_action, self.forward_action, self.read_action,
                       self.flag_action, self.delete_action, self.move_action, self.copy_action):
            message_menu.addAction(action)
        toolbar.widgetForAction(self.read_action).setObjectName("readButton")  # type: ignore[union-attr]
        from sharedclient.ui.permissions import install_access_menu  # Mailbox → Permissions…, Access review…

        install_access_menu(self)

    def _build_status_bar(self) -> None:
        self.progress = QProgressBar()
        self.progress.setObjectName("syncProgress")
        self.progress.setMaximumWidth(220)
        self.progress.setFormat(self.tr("%v of %m"))
        self.progress.hide()
        self.cancel_button = QPushButton(self.tr("Cancel"))
        self.cancel_button.setObjectName("cancelSync")
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self._cancel_sync)
        self.statusBar().addWidget(self.progress)
        self.statusBar().addWidget(self.cancel_button)
        self.status_labels: dict[str, AccountStatus] = {}
        for account in self.controller.accounts.values():
            label = AccountStatus(account)
            self.status_labels[account.name] = label
            self.statusBar().addPermanentWidget(label)
        if not self.controller.accounts:
            self.statusBar().showMessage(self.tr("No accounts yet: add one with “sharedclient account add”."))

    # -- folders ---------------------------------------------------------------------------------

    def refresh(self) -> None:
        self.controller.refresh_folders()
        if self.current is not None:
            self.controller.sync(self.current.account, self.current.path)

    def open_folder(self, folder: Folder) -> None:
        previous = self.current
        if previous is not None and previous.path.upper() != "INBOX":
            self.controller.unwatch(previous.account, previous.path)
        self.current = folder
        session = self.controller.sessions.get(folder.account)
        self.view.clear()
        self.search.clear()
        if session is None:
            return
        self.model.show_mailbox(session.cache, session.cache.mailbox(folder.path).id)
        self._show_banner(folder)
        self._update_actions()
        self.controller.sync(folder.account, folder.path)
        self.controller.watch(folder.account, folder.path)

    def _show_banner(self, folder: Folder) -> None:
        where = f"shared mailbox {folder.owner}" if folder.owner else folder.section.value
        badge = ""
        if folder.section is not Section.PERSONAL and is_read_only(folder.rights):
            badge = " <span style='background:#eceff1;padding:1px 4px'>read-only</span>"
        self.folder_banner.setText(
            f"<b>{html.escape(folder.name)}</b> — {html.escape(where)}{badge}<br>"
            f"<span style='color:#666'>You may: {html.escape(describe_rights(folder.rights))}</span>"
        )

    def _on_folders(self, name: str, folders: list[Folder]) -> None:
        self.folder_pane.set_account_folders(name, self.controller.accounts[name].email, folders)
        if self.current is None and not self._opened_first:
            self._opened_first = True  # start where everyone starts: the first account's Inbox
            inbox = next((f for f in folders if f.section is Section.PERSONAL and f.path.upper() == "INBOX"), None)
            if inbox is not None:
                self.folder_pane.select_folder(name, inbox.path)
            return
        if self.current is None or self.current.account != name:
            return
        fresh = next((f for f in folders if f.path == self.current.path), None)
        if fresh is None:
            lost = self.current
            self.current = None
            self.model.show_mailbox(None, None)
            self.view.clear()
            self.folder_banner.setText(
                f"<b>You no longer have access to {html.escape(lost.name)}</b> "
                f"({html.escape(lost.owner or lost.path)}); it was removed from the list."
            )
            self.statusBar().showMessage(f"Access to {lost.path} was removed on the server.", 15000)
        elif fresh.rights != self.current.rights:
            self.current = fresh
            self._show_banner(fresh)
            self.statusBar().showMessage(f"Your rights on {fresh.path} changed: {describe_rights(fresh.rights)}.", 15000)
        else:
            self.current = fresh
        self._update_actions()

    # -- sync ------------------------------------------------------------------------------------

    def _on_progress(self, name: str, path: str, done: int, total: int) -> None:
        if self.current is None or (name, path) != (self.current.account, self.current.path):
            return
        if total > 500 and done < total:
            self.progress.setMaximum(total)
            self.progress.setValue(done)
            self.progress.show()
            self.cancel_button.show()
        else:
            self.progress.hide()
            self.cancel_button.hide()

    def _cancel_sync(self) -> None:
        if self.current is not None:
            self.controller.cancel_sync(self.current.account, self.current.path)
        self.progress.hide()
        self.cancel_button.hide()

    def _on_synced(self, name: str, path: str, result: SyncResult) -> None:
        self.progress.hide()
        self.cancel_button.hide()
        if self.current is None or (name, path) != (self.current.account, self.current.path):
            return
        if result.fetched or result.updated or result.vanished or result.uidvalidity_reset:
            selected = self._selected_uid()
            self.model.reload()
            if selected is not None:
                row = self.model.row_of_uid(selected)
                if row >= 0:
                    self.list_view.selectRow(row)

    # -- messages --------------------------------------------------------------------------------

    def _selected_uid(self) -> int | None:
        row = self.list_view.currentIndex().data(ROW_ROLE)
        return row.uid if row is not None else None

    def _run_search(self) -> None:
        """Sender/recipient/subject search runs in the local FTS index; body text is searched by the server."""
        text = self.search.text().strip()
        folder = self.current
        if not (self.server_search.isChecked() and text and folder):
            self.model.set_search(text)
            return
        session = self.controller.sessions[folder.account]
        self.statusBar().showMessage(self.tr("Searching the server…"))
        self.controller._bridge.when_done(  # noqa: SLF001
            session.search_text(folder.path, text),
            lambda uids, t=text, f=folder: self._server_results(t, f, uids),
            lambda err: self._on_problem(folder.account, err.user_message),
        )

    def _server_results(self, text: str, folder: Folder, uids: list[int]) -> None:
        if folder is self.current and text == self.search.text().strip() and self.server_search.isChecked():
            self.model.set_search("", frozenset(uids))
            self.statusBar().showMessage(self.tr("%1 messages contain “%2”.").replace("%1", str(len(uids))).replace("%2", text), 8000)

    def _on_message_selected(self, current: QModelIndex, _previous: QModelIndex) -> None:
        row = current.data(ROW_ROLE)
        folder = self.current
        self._update_actions()
        if row is None or folder is None:
            return
        session = self.controller.sessions[folder.account]
        self.controller._bridge.when_done(  # noqa: SLF001
            session.message_body(folder.path, row.uid),
            lambda raw, uid=row.uid: self._show_body(uid, raw),
            lambda err: self._on_problem(folder.account, err.user_message),
        )

    def _show_body(self, uid: int, raw: bytes) -> None:
        if self._selected_uid() != uid:
            return
        self.view.show_message(raw)
        row = self.list_view.currentIndex().data(ROW_ROLE)
        folder = self.current
        if row is not None and folder is not None and not row.seen and allowed("toggle_read", folder)[0]:
            # Reading marks as read, as in every mail client; in a shared mailbox the team sees it too.
            self.controller._bridge.when_done(  # noqa: SLF001
                self.controller.sessions[folder.account].set_flags(folder.path, [uid], ["\\Seen"], True),
                lambda _: self.model.refresh_row(uid),
                lambda err: self._on_problem(folder.account, err.user_message),
            )

    def _show_source(self) -> None:
        editor = QPlainTextEdit()
        editor.setObjectName("sourceView")
        editor.setReadOnly(True)
        editor.setPlainText(self.view.raw.decode("utf-8", "replace"))
        editor.setWindowTitle(self.tr("Message source"))
        editor.resize(800, 600)
        editor.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        editor.show()
        self._source_window = editor

    def _load_remote(self, urls: list[str]) -> None:
        """The user asked to load this message's remote images once: fetch them off the GUI thread."""
        raw = self.view.raw
        future = self._remote_pool.submit(fetch_images, urls)
        self.controller._bridge.when_done(  # noqa: SLF001
            future,
            lambda images: self.view.show_remote_images(images) if self.view.raw == raw else None,
            lambda err: self._on_problem("", err.user_message),
        )

    def _save_attachment(self, attachment: Attachment) -> None:
        folder = self.choose_folder()
        if not folder:
            return
        try:
            path = save_attachment(Path(folder), attachment.filename, attachment_payload(self.view.raw, attachment.index))
        except SharedClientError as exc:
            self._on_problem("", exc.user_message)
            return
        self.statusBar().showMessage(self.tr("Saved as %s") % str(path), 10000)

    def _toggle_flag(self, flag: str, action: str) -> None:
        folder = self.current
        row = self.list_view.currentIndex().data(ROW_ROLE)
        ok, reason = allowed(action, folder)
        if folder is None or row is None:
            return
        if not ok:
            self.statusBar().showMessage(reason, 10000)
            return
        add = flag not in row.flags
        session = self.controller.sessions[folder.account]
        self.controller._bridge.when_done(  # noqa: SLF001
            session.set_flags(folder.path, [row.uid], [flag], add),
            lambda _: self._after_flag_change(row.uid),
            lambda err: self._on_problem(folder.account, err.user_message),
        )

    def _delete(self) -> None:
        folder = self.current
        row = self.list_view.currentIndex().data(ROW_ROLE)
        ok, reason = allowed("delete", folder)
        if folder is None or row is None:
            return
        if not ok:
            self.statusBar().showMessage(reason, 10000)
            return
        next_row = self.list_view.currentIndex().row()
        session = self.controller.sessions[folder.account]
        self.controller._bridge.when_done(  # noqa: SLF001
            session.delete(folder.path, [row.uid]),
            lambda outcome: self._after_delete(outcome, next_row),
            lambda err: self._on_problem(folder.account, err.user_message),
        )

    def _after_delete(self, outcome: DeleteOutcome, next_row: int) -> None:
        self.model.reload()
        self.view.clear()
        if self.model.rowCount():
            self.list_view.selectRow(min(next_row, self.model.rowCount() - 1))
        where = f"moved to {outcome.moved_to.name}" if outcome.moved_to else "deleted for good"
        self.statusBar().showMessage(f"Message {where} ({outcome.where}).", 10000)
        self.controller.refresh_folders(self.current.account if self.current else None)

    def filing_targets(self) -> list[Folder]:
        """Folders of the current account one may add messages to ("i"), except the current one."""
        if self.current is None:
            return []
        return [f for f in self.controller.folders.get(self.current.account, [])
                if f.selectable and "i" in f.rights and f.path != self.current.path]

    def choose_target(self, targets: list[Folder], copy: bool) -> Folder | None:
        """Replaceable in tests; asks the user which folder to file into."""
        labels = [f"{f.owner}: {f.path}" if f.owner else f.path for f in targets]
        label, ok = QInputDialog.getItem(self, self.tr("Copy to") if copy else self.tr("Move to"),
                                         self.tr("Folder:"), labels, 0, False)
        return targets[labels.index(label)] if ok and label in labels else None

    def _transfer(self, copy: bool) -> None:
        folder = self.current
        row = self.list_view.currentIndex().data(ROW_ROLE)
        if folder is None or row is None:
            return
        if not copy and not allowed("delete", folder)[0]:
            self.statusBar().showMessage(self.tr("You may not move messages out of here (missing right “t”)."), 10000)
            return
        targets = self.filing_targets()
        if not targets:
            self.statusBar().showMessage(self.tr("There is no folder you may file into (right “i”)."), 10000)
            return
        target = self.choose_target(targets, copy)
        if target is None:
            return
        session = self.controller.sessions[folder.account]
        future = (session.copy if copy else session.move)(folder.path, [row.uid], target.path)
        verb = "Copied" if copy else "Moved"
        self.controller._bridge.when_done(  # noqa: SLF001
            future,
            lambda _: (self.model.reload(), self.statusBar().showMessage(f"{verb} to {target.path}.", 10000)),
            lambda err: self._on_problem(folder.account, err.user_message),
        )

    def _after_flag_change(self, uid: int) -> None:
        self.model.refresh_row(uid)
        self._update_actions()

    def _new_message(self) -> None:
        if self.sending is None:
            self.statusBar().showMessage(self.tr("Sending is not set up for this window."), 10000)
            return
        self.sending.new_message(self)

    def _reply(self, reply_all: bool = False, forward: bool = False) -> None:
        row = self.list_view.currentIndex().data(ROW_ROLE)
        if self.sending is None or self.current is None or row is None or not self.view.raw:
            return
        try:
            self.sending.reply(self.view.raw, self.current, row.uid, reply_all=reply_all, forward=forward)
        except SharedClientError as exc:
            self._on_problem("", exc.user_message)

    def _show_identities(self) -> None:
        if self.sending is not None:
            from sharedclient.ui.identities import IdentitiesWindow  # noqa: PLC0415 - opened rarely

            self.identities_window = IdentitiesWindow(self.sending)
            self.identities_window.show()

    def _show_history(self) -> None:
        if self.sending is not None:
            self.sending.history_window()

    def _update_actions(self) -> None:
        has_message = self.list_view.currentIndex().isValid()
        can_send = self.sending is not None
        self.new_action.setEnabled(can_send)
        self.history_action.setEnabled(can_send)
        self.identities_action.setEnabled(can_send)
        for action in (self.reply_action, self.reply_all_action, self.forward_action):
            action.setEnabled(can_send and has_message)
        for action, name in ((self.read_action, "toggle_read"), (self.flag_action, "toggle_flag"),
                             (self.delete_action, "delete")):
            ok, reason = allowed(name, self.current)
            action.setEnabled(ok and has_message)
            action.setToolTip(reason or action.text())
        self.move_action.setEnabled(has_message and allowed("delete", self.current)[0])
        self.move_action.setToolTip(allowed("delete", self.current)[1] or self.move_action.text())
        self.copy_action.setEnabled(has_message and self.current is not None)

    # -- status ----------------------------------------------------------------------------------

    def _on_state(self, name: str, state: ConnectionState, detail: str) -> None:
        self.status_labels[name].show_state(state, detail)

    def _on_problem(self, _name: str, text: str) -> None:
        self.statusBar().showMessage(text, 15000)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self._remote_pool.shutdown(wait=False, cancel_futures=True)
        if self.sending is not None:
            for composer in list(self.sending.composers):
                composer.close()  # each asks about unsent text
            if self.sending.composers:
                event.ignore()
                return
            self.sending.shutdown()
        self.model.show_mailbox(None, None)  # the caches close below; nothing may read them afterwards
        self.current = None
        self.controller.shutdown()
        super().closeEvent(event)


__all__ = ["MainWindow", "AccountStatus", "SharedClientError"]
