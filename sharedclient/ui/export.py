"""Mailbox → Export as mbox… / Export as .eml Files…: the open mailbox, or just the messages the search
shows, written on the account's worker (``core.export``) and recorded in the audit trail."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog

from sharedclient.core.errors import SharedClientError
from sharedclient.core.export import ExportResult, check_target, export_messages
from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.mime.filenames import safe_filename
from sharedclient.core.store.listing import rows_by_id

if TYPE_CHECKING:
    from sharedclient.ui.mainwindow import MainWindow


class ExportCommands:
    def __init__(self, window: MainWindow) -> None:
        self.window = window
        menu = window.menu("mailbox")
        menu.addSeparator()
        self.mbox_action = QAction(window.tr("Export as &mbox…"), window)
        self.mbox_action.setObjectName("exportMboxAction")
        self.mbox_action.triggered.connect(lambda: self.run("mbox"))
        self.eml_action = QAction(window.tr("Export as .&eml Files…"), window)
        self.eml_action.setObjectName("exportEmlAction")
        self.eml_action.triggered.connect(lambda: self.run("eml"))
        for action in (self.mbox_action, self.eml_action):
            action.setStatusTip(window.tr("Save the open mailbox — or only the messages the search shows — as files."))
            menu.addAction(action)
        # Replaceable in tests; the defaults ask with the platform's file dialogs.
        self.choose_file = lambda name: QFileDialog.getSaveFileName(window, window.tr("Export as mbox"), name,
                                                                     "mbox (*.mbox)")[0]  # fmt: skip
        self.choose_folder = lambda: QFileDialog.getExistingDirectory(window, window.tr("Export into folder"))

    def _shown_uids(self) -> list[int] | None:
        """The UIDs the list shows when a search narrows it, else None (the whole mailbox)."""
        model = self.window.model
        if not model.search_text and model.uid_filter is None:
            return None
        cache = model._cache  # noqa: SLF001 - the model's own cache, read-only here
        ids = list(model._ids)  # noqa: SLF001
        rows = rows_by_id(cache, ids) if cache is not None else {}
        return [rows[i].uid for i in ids if i in rows]

    def run(self, fmt: str) -> None:
        window, folder = self.window, self.window.current
        if folder is None:
            window.statusBar().showMessage(window.tr("Choose a mailbox to export first."), 10000)
            return
        uids = self._shown_uids()
        base = safe_filename(f"{folder.owner or folder.account} {folder.name} {date.today():%Y-%m-%d}", "export")
        if fmt == "mbox":
            chosen = self.choose_file(base + ".mbox")
            target = Path(chosen) if chosen else None
        else:
            chosen = self.choose_folder()
            target = Path(chosen) / base if chosen else None
        if target is None:
            return
        try:
            check_target(target, fmt)
        except SharedClientError as exc:
            window.statusBar().showMessage(exc.user_message, 15000)
            return
        session = window.controller.sessions[folder.account]
        path = folder.path

        def job(conn: ImapConnection) -> ExportResult:
            result = export_messages(conn, path, uids, target, fmt)
            session.audit.record("mailbox.export", account=folder.account, target={"mailbox": path},
                                 details={"format": fmt, "file": str(target), "messages": result.count,
                                          "search": window.model.search_text})  # fmt: skip
            return result

        window.statusBar().showMessage(window.tr("Exporting…"))
        window.controller._bridge.when_done(  # noqa: SLF001
            session.worker.submit(job),
            lambda r: window.statusBar().showMessage(
                window.tr("Exported %1 message(s) to %2.").replace("%1", str(r.count)).replace("%2", str(r.target)), 20000),
            lambda err: window.report_error(err, folder.account),
        )


def install_export_menu(window: MainWindow) -> ExportCommands:
    """The one-line hook in ``MainWindow._install_feature_menus``."""
    window.exporter = ExportCommands(window)  # type: ignore[attr-defined]
    return window.exporter  # type: ignore[attr-defined,no-any-return]
