"""The main window: the three panes, per-account status, progress with cancel, problems in the error bar.

Commands and menus live in ``ui.menus``, the pane arrangement in ``ui.panes``, the remembered layout in
``ui.layoutstate``, the tray and notifications in ``ui.tray``. Features add their menu entries with a
one-line hook in ``_install_feature_menus``.
"""

from __future__ import annotations

import html
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import QEvent, QModelIndex
from PySide6.QtGui import QAction, QCloseEvent
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QMenu, QVBoxLayout, QWidget

from sharedclient.core.errors import SharedClientError
from sharedclient.core.imap.rights import describe_rights, is_read_only
from sharedclient.core.imap.sync import SyncResult
from sharedclient.core.model import Folder, Section
from sharedclient.core.worker import ConnectionState
from sharedclient.ui import layoutstate
from sharedclient.ui.accounts import AccountsController
from sharedclient.ui.actions import allowed
from sharedclient.ui.errorbar import ErrorBar, problem_from
from sharedclient.ui.folderpane import FolderPane
from sharedclient.ui.menus import MainMenus
from sharedclient.ui.messagecommands import MessageCommands
from sharedclient.ui.messagelist import ROW_ROLE, MessageListModel, MessageListView
from sharedclient.ui.messageview import MessageView
from sharedclient.ui.palette import badge_css, muted
from sharedclient.ui.panes import PaneLayout
from sharedclient.ui.search import SearchRow
from sharedclient.ui.sending import SendController
from sharedclient.ui.statusarea import AccountStatus, BusyIndicator
from sharedclient.ui.tray import MailNotifier, install_notifications_menu

log = logging.getLogger(__name__)


class MainWindow(MessageCommands, QMainWindow):
    # Commands, created by ui.menus.MainMenus under these names (tests and hooks use them).
    new_action: QAction
    refresh_action: QAction
    history_action: QAction
    identities_action: QAction
    reply_action: QAction
    reply_all_action: QAction
    forward_action: QAction
    read_action: QAction
    flag_action: QAction
    delete_action: QAction
    move_action: QAction
    copy_action: QAction

    def __init__(self, controller: AccountsController, profile_name: str, state_dir: Path | None = None) -> None:
        super().__init__()
        self.controller = controller
        self.state_dir = state_dir  # the profile's directory for window-state.json, notifications.json
        self.current: Folder | None = None
        self.sending: SendController | None = None  # set by build_window when the profile can send
        self._opened_first = False
        self._remote_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="remote-images")
        self.setWindowTitle(self.tr("SharedClient — %1").replace("%1", profile_name))
        self.resize(1200, 760)

        self.folder_pane = FolderPane()
        self.search_row = SearchRow(self)
        self.search = self.search_row.box
        self.server_search = self.search_row.server
        self.folder_banner = QLabel(self.tr("Choose a mailbox on the left."))
        self.folder_banner.setObjectName("folderBanner")
        self.folder_banner.setAccessibleName(self.tr("Open mailbox"))
        self.folder_banner.setWordWrap(True)
        self.model = MessageListModel(self)
        self.list_view = MessageListView(self.model)
        self.list_view.selectionModel().currentRowChanged.connect(self._on_message_selected)
        self.view = MessageView()
        self.view.setAccessibleName(self.tr("Reading pane"))
        self.view.browser.setAccessibleName(self.tr("Message text"))
        self.view.show_source_requested.connect(self._show_source)
        self.view.load_remote_requested.connect(self._load_remote)
        self.view.save_attachment_requested.connect(self._save_attachment)
        self.view.load_whole_requested.connect(self._load_whole)
        self.view.save_message_requested.connect(self._save_message)
        self.choose_folder = lambda: QFileDialog.getExistingDirectory(self, self.tr("Save attachment in"))

        list_box = QWidget()
        list_box.setObjectName("listBox")
        list_layout = QVBoxLayout(list_box)
        list_layout.setContentsMargins(0, 0, 0, 0)
        list_layout.addWidget(self.folder_banner)
        list_layout.addWidget(self.search_row)
        list_layout.addWidget(self.list_view, 1)
        self.panes = PaneLayout(self.folder_pane, list_box, self.view)
        self.error_bar = ErrorBar()
        central = QWidget()
        central_layout = QVBoxLayout(central)
        central_layout.setContentsMargins(0, 0, 0, 0)
        central_layout.setSpacing(0)
        central_layout.addWidget(self.error_bar)
        central_layout.addWidget(self.panes, 1)
        self.setCentralWidget(central)

        self.menus = MainMenus(self)
        self._install_feature_menus()
        self.menus.add_help_menu()  # last, after the hooks' menus
        self._build_status_bar()

        controller.state_changed.connect(self._on_state)
        controller.folders_changed.connect(self._on_folders)
        controller.problem.connect(self._on_problem)
        controller.cancelled.connect(lambda _name, text: self.statusBar().showMessage(text, 10000))
        controller.sync_progress.connect(self._on_progress)
        controller.synced.connect(self._on_synced)
        self.folder_pane.folder_selected.connect(self.open_folder)
        if state_dir is not None:
            layoutstate.apply(self, layoutstate.load(state_dir))
        self._update_actions()

    # -- construction ----------------------------------------------------------------------------

    def _install_feature_menus(self) -> None:
        """Feature hooks, one line each: they add menus or entries (``self.menu("file")`` …)."""
        from sharedclient.ui.permissions import install_access_menu  # Mailbox → Permissions…, Access review…
        from sharedclient.ui.claims import install_claim_menu
        from sharedclient.ui.statistics import install_statistics_menu
        from sharedclient.ui.export import install_export_menu
        from sharedclient.ui.tracking import install_tracking
        from sharedclient.ui.activity import install_activity_menu

        install_access_menu(self)
        self.notifier: MailNotifier = install_notifications_menu(self, self.state_dir)  # tray, Mailbox → Notify
        install_claim_menu(self)  # Message → Claim / Release Claim (ui.claims)
        install_statistics_menu(self)  # View → Statistics… (ui.statistics)
        install_tracking(self)  # report line and read-receipt question in the reading pane (ui.tracking)
        install_export_menu(self)  # Mailbox → Export as mbox… / .eml files… (ui.export)
        install_activity_menu(self)  # View → Activity… (ui.activity): the audit trail

    def menu(self, key: str) -> QMenu:
        """A menu by key: "file", "edit", "view", "message", "mailbox", "help"."""
        return self.menus.mailbox_menu() if key == "mailbox" else self.menus.menus[key]

    def set_layout_mode(self, mode: str) -> None:
        """Classic, vertical (three columns) or wide list; View → Layout."""
        self.panes.set_mode(mode)
        self.menus.layout_actions[mode].setChecked(True)

    def set_reading_pane(self, visible: bool) -> None:
        self.panes.show_reading_pane(visible)
        self.menus.reading_pane_action.setChecked(visible)

    def focus_search(self) -> None:
        self.search_row.focus()

    def _build_status_bar(self) -> None:
        self.busy = BusyIndicator()
        self.statusBar().addWidget(self.busy)
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
        if previous is not None and previous.path.upper() != "INBOX" and not self.notifier.keeps_watching(previous):
            self.controller.unwatch(previous.account, previous.path)
        self.current = folder
        session = self.controller.sessions.get(folder.account)
        self.view.clear()
        self.search.clear()
        self.busy.stop()
        if session is None:
            return
        self.model.show_mailbox(session.cache, session.cache.mailbox(folder.path).id)
        self._show_banner(folder)
        self._update_actions()
        session.record_opened(folder.path)  # audit trail: mailbox.open
        self.controller.sync(folder.account, folder.path)
        self.controller.watch(folder.account, folder.path)

    def _show_banner(self, folder: Folder) -> None:
        where = self.tr("shared mailbox %1").replace("%1", folder.owner) if folder.owner else folder.section.value
        badge = ""
        if folder.section is not Section.PERSONAL and is_read_only(folder.rights):
            badge = f" <span style='{badge_css(self)}'><b>{self.tr('[read-only]')}</b></span>"
        rights = self.tr("You may: %1").replace("%1", describe_rights(folder.rights))
        self.folder_banner.setText(
            f"<b>{html.escape(folder.name)}</b> — {html.escape(where)}{badge}<br>"
            f"<span style='color:{muted(self)}'>{html.escape(rights)}</span>"
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
                self.tr("<b>You no longer have access to %1</b> (%2); it was removed from the list.")
                .replace("%1", html.escape(lost.name)).replace("%2", html.escape(lost.owner or lost.path))
            )
            self.statusBar().showMessage(
                self.tr("Access to %1 was removed on the server.").replace("%1", lost.path), 15000)
        elif fresh.rights != self.current.rights:
            self.current = fresh
            self._show_banner(fresh)
            self.statusBar().showMessage(self.tr("Your rights on %1 changed: %2.").replace("%1", fresh.path)
                                         .replace("%2", describe_rights(fresh.rights)), 15000)
        else:
            self.current = fresh
        self._update_actions()

    # -- sync ------------------------------------------------------------------------------------

    def _on_progress(self, name: str, path: str, done: int, total: int) -> None:
        if self.current is None or (name, path) != (self.current.account, self.current.path):
            return
        if total > 500 and done < total:
            self.busy.start(self.tr("Fetching headers"), done, total, lambda: self.controller.cancel_sync(name, path))
        elif self.busy.active:
            self.busy.stop()

    def _on_synced(self, name: str, path: str, result: SyncResult) -> None:
        if self.current is not None and (name, path) == (self.current.account, self.current.path):
            self.busy.stop()
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

    def _on_message_selected(self, current: QModelIndex, _previous: QModelIndex) -> None:
        row = current.data(ROW_ROLE)
        folder = self.current
        self._update_actions()
        if row is None or folder is None:
            return
        session = self.controller.sessions[folder.account]
        self.controller._bridge.when_done(  # noqa: SLF001
            session.message_for_display(folder.path, row.uid, row.size, self.view.display_limit),
            lambda body, uid=row.uid: self._show_body(uid, body.raw, body.total),
            lambda err: self.report_error(err, folder.account),
        )

    def _show_body(self, uid: int, raw: bytes, total: int | None = None) -> None:
        if self._selected_uid() != uid:
            return
        self.view.show_message(raw, total)
        row = self.list_view.currentIndex().data(ROW_ROLE)
        folder = self.current
        if row is not None and folder is not None and not row.seen and allowed("toggle_read", folder)[0]:
            # Reading marks as read, as in every mail client; in a shared mailbox the team sees it too.
            self.controller._bridge.when_done(  # noqa: SLF001
                self.controller.sessions[folder.account].set_flags(folder.path, [uid], ["\\Seen"], True),
                lambda _: self.model.refresh_row(uid),
                lambda err: self.report_error(err, folder.account),
            )

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

    def _on_problem(self, name: str, text: str) -> None:
        self.report(text, name)

    def report(self, message: str, account: str = "", error: BaseException | None = None) -> None:
        """Every problem goes to the error bar: the sentence, and facts under "Details"."""
        acct = self.controller.accounts.get(account)
        label = f"{acct.email} ({account})" if acct is not None else account
        self.error_bar.show_problem(problem_from(message, label, error))

    def report_error(self, err: SharedClientError, account: str = "") -> None:
        self.report(err.user_message, account, err)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.PaletteChange and self.current is not None:
            self._show_banner(self.current)  # its colours come from the palette
        super().changeEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if self.sending is not None:
            for composer in list(self.sending.composers):
                composer.close()  # each asks about unsent text
            if self.sending.composers:
                event.ignore()
                return
        if self.state_dir is not None:
            layoutstate.remember(self, self.state_dir)
        self._remote_pool.shutdown(wait=False, cancel_futures=True)
        if self.notifier.tray is not None:
            self.notifier.tray.hide()
        if self.sending is not None:
            self.sending.shutdown()
        self.model.show_mailbox(None, None)  # the caches close below; nothing may read them afterwards
        self.current = None
        self.controller.shutdown()
        super().closeEvent(event)


__all__ = ["MainWindow", "AccountStatus", "SharedClientError"]
