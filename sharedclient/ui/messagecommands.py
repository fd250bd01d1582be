"""What the Message and File menus do to the selected message: flags, delete, move/copy, reply, source.

A mixin of MainWindow (it uses the window's list, reading pane, controller and error bar), kept apart so
the window module holds only layout and wiring. Every action checks the mailbox's rights first
(ui.actions.allowed) and reports refusals in plain words.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QInputDialog, QPlainTextEdit

from sharedclient.core.errors import SharedClientError
from sharedclient.core.imap.messages import DeleteOutcome
from sharedclient.core.account_session import message_id_of
from sharedclient.core.mime.filenames import safe_filename, save_attachment, unique_path
from sharedclient.core.mime.render import Attachment, attachment_payload
from sharedclient.core.model import Folder
from sharedclient.core.remote import fetch_images
from sharedclient.ui.actions import allowed
from sharedclient.ui.messagelist import ROW_ROLE

if TYPE_CHECKING:
    from sharedclient.ui.mainwindow import MainWindow

    _Base = MainWindow
else:
    _Base = object


class MessageCommands(_Base):
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
            lambda err: self.report_error(err),
        )

    def _save_attachment(self, attachment: Attachment) -> None:
        folder = self.choose_folder()
        if not folder:
            return
        try:
            path = save_attachment(Path(folder), attachment.filename, attachment_payload(self.view.raw, attachment.index))
        except SharedClientError as exc:
            self.report_error(exc)
            return
        self.statusBar().showMessage(self.tr("Saved as %1").replace("%1", str(path)), 10000)
        if (audit := getattr(self, "audit", None)) is not None and self.current is not None:  # ui.launch sets it
            audit.record("attachment.save", account=self.current.account, target={"mailbox": self.current.path,
                         "message_id": message_id_of(self.view.raw or b""), "filename": attachment.filename},
                         details={"saved_as": str(path)})  # fmt: skip

    def choose_save_path(self, suggested: str) -> str:
        return QFileDialog.getSaveFileName(self, self.tr("Save message as"), suggested, "E-mail (*.eml)")[0]

    def _load_whole(self) -> None:
        """The reading pane showed only the start of a big message; the person asked for all of it."""
        row, folder = self.list_view.currentIndex().data(ROW_ROLE), self.current
        if row is None or folder is None:
            return
        self.view.load_whole_button.setEnabled(False)
        self.controller._bridge.when_done(  # noqa: SLF001
            self.controller.sessions[folder.account].message_body(folder.path, row.uid),
            lambda raw, uid=row.uid: self.view.show_message(raw) if self._selected_uid() == uid else None,
            lambda err: self.report_error(err, folder.account),
        )

    def _save_message(self) -> None:
        """Stream the whole message to a file without holding it in memory (never overwriting a file)."""
        row, folder = self.list_view.currentIndex().data(ROW_ROLE), self.current
        if row is None or folder is None:
            return
        chosen = self.choose_save_path(safe_filename(f"{row.subject or 'message'}.eml"))
        if not chosen:
            return
        target = unique_path(Path(chosen).parent, Path(chosen).name)
        self.controller._bridge.when_done(  # noqa: SLF001
            self.controller.sessions[folder.account].save_message(folder.path, row.uid, target),
            lambda path: self.statusBar().showMessage(self.tr("Saved as %1").replace("%1", str(path)), 10000),
            lambda err: self.report_error(err, folder.account),
        )

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
            lambda err: self.report_error(err, folder.account),
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
            lambda err: self.report_error(err, folder.account),
        )

    def _after_delete(self, outcome: DeleteOutcome, next_row: int) -> None:
        self.model.reload()
        self.view.clear()
        if self.model.rowCount():
            self.list_view.selectRow(min(next_row, self.model.rowCount() - 1))
        if outcome.moved_to:
            text = self.tr("Message moved to %1 (%2).").replace("%1", outcome.moved_to.name)
        else:
            text = self.tr("Message deleted for good (%2).")
        self.statusBar().showMessage(text.replace("%2", outcome.where), 10000)
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
        done = self.tr("Copied to %1.") if copy else self.tr("Moved to %1.")
        self.controller._bridge.when_done(  # noqa: SLF001
            future,
            lambda _: (self.model.reload(), self.statusBar().showMessage(done.replace("%1", target.path), 10000)),
            lambda err: self.report_error(err, folder.account),
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
        if row is not None and self.view.partial:  # a reply or forward from a cut-off copy would lose its end
            self.statusBar().showMessage(self.tr("This message is shown only in part: choose “Load whole "
                                                 "message” first, then reply or forward."), 10000)
            return
        if self.sending is None or self.current is None or row is None or not self.view.raw:
            return
        try:
            self.sending.reply(self.view.raw, self.current, row.uid, reply_all=reply_all, forward=forward)
        except SharedClientError as exc:
            self.report_error(exc)

    def _show_identities(self) -> None:
        if self.sending is not None:
            from sharedclient.ui.identities import IdentitiesWindow  # noqa: PLC0415 - opened rarely

            self.identities_window = IdentitiesWindow(self.sending)
            self.identities_window.show()

    def _show_history(self) -> None:
        if self.sending is not None:
            self.sending.history_window()

