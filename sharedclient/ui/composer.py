"""The composer: From-picker limited to permitted identities, recipients with completion and inline
validation, attachments by button or drag-and-drop, autosaved drafts, Ctrl+Enter to send.

It knows nothing of SMTP: it edits a ``Draft`` and emits ``send_requested(draft)``; the owner sends
and calls ``sent()`` or ``send_failed(sentence)``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QStringListModel, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from sharedclient.core.drafts import AUTOSAVE_SECONDS, Draft, DraftStore
from sharedclient.core.errors import SharedClientError, UsageError
from sharedclient.core.mime.addresses import parse_mailbox, split_list
from sharedclient.core.model import Identity, SendMode
from sharedclient.ui.messagelist import human_size
from sharedclient.ui.palette import muted, tone

log = logging.getLogger(__name__)

_MODE_WORDS = {SendMode.OWN: "your address", SendMode.SEND_AS: "Send As", SendMode.ON_BEHALF: "On Behalf"}


def check_recipients(text: str) -> tuple[list[str], str]:
    """(entries, error sentence or "") for a recipient field, with the same strict rules as sending."""
    try:
        entries = split_list(text)
        for entry in entries:
            parse_mailbox(entry)
    except UsageError as exc:
        return [], exc.user_message
    return entries, ""


class RecipientField(QLineEdit):
    """A recipient line with completion from recent recipients and inline validation."""

    def __init__(self, object_name: str, completions: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(object_name)
        self.setAccessibleName(object_name)
        self.setPlaceholderText("name@example.com, Name <other@example.com>")
        completer = QCompleter(QStringListModel(list(completions), self), self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.setCompleter(completer)
        self.error = ""
        self.textChanged.connect(self._validate)

    def _validate(self) -> None:
        _, self.error = check_recipients(self.text())
        self.setStyleSheet("QLineEdit { border: 1px solid #c62828; }" if self.error else "")
        self.setToolTip(self.error)

    def entries(self) -> list[str]:
        """What was typed, split into recipients (kept even when invalid, so a draft loses nothing)."""
        text = self.text().strip()
        if not text:
            return []
        try:
            return split_list(text)
        except UsageError:
            return [text]


class Composer(QWidget):
    send_requested = Signal(object)  # Draft
    closed = Signal(str)  # draft id

    def __init__(
        self,
        identities: Sequence[Identity],
        recipient_view: Callable[[Identity], str],
        drafts: DraftStore,
        draft: Draft | None = None,
        completions: Sequence[str] = (),
        reason: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("composer")
        self.setWindowTitle(self.tr("New message"))
        self.resize(760, 620)
        self.identities = list(identities)
        self._recipient_view = recipient_view
        self._drafts = drafts
        self.draft = draft or Draft()
        self._saved_draft = self.draft
        self._sending = False
        self.setAcceptDrops(True)

        self.from_picker = QComboBox()
        self.from_picker.setObjectName("fromPicker")
        self.from_picker.setAccessibleName("From")
        self._fill_identities()
        self.recipient_view_label = QLabel()
        self.recipient_view_label.setObjectName("recipientView")
        self.recipient_view_label.setStyleSheet(f"color: {muted(self)}")
        self.reason_label = QLabel(reason)
        self.reason_label.setObjectName("replyReason")
        self.reason_label.setStyleSheet(f"color: {tone('info', self)}")
        self.reason_label.setVisible(bool(reason))
        self.to_field = RecipientField("to", completions)
        self.cc_field = RecipientField("cc", completions)
        self.bcc_field = RecipientField("bcc", completions)
        self.subject = QLineEdit()
        self.subject.setObjectName("subject")
        self.body = QPlainTextEdit()
        self.body.setObjectName("body")
        self.attachments = QListWidget()
        self.attachments.setObjectName("attachmentList")
        self.attachments.setMaximumHeight(80)
        attach_button = QPushButton(self.tr("Attach…"))
        attach_button.clicked.connect(self._choose_attachments)
        remove_button = QPushButton(self.tr("Remove attachment"))
        remove_button.clicked.connect(self._remove_attachment)
        self.send_button = QPushButton(self.tr("Send"))
        self.send_button.setObjectName("sendButton")
        self.send_button.setToolTip(self.tr("Send (Ctrl+Enter)"))
        self.send_button.clicked.connect(self.request_send)
        self.status = QLabel()
        self.status.setObjectName("composerStatus")
        self.status.setWordWrap(True)

        form = QFormLayout()
        form.addRow(self.tr("From:"), self.from_picker)
        form.addRow("", self.recipient_view_label)
        form.addRow("", self.reason_label)
        form.addRow(self.tr("To:"), self.to_field)
        form.addRow(self.tr("Cc:"), self.cc_field)
        form.addRow(self.tr("Bcc:"), self.bcc_field)
        form.addRow(self.tr("Subject:"), self.subject)
        buttons = QHBoxLayout()
        buttons.addWidget(attach_button)
        buttons.addWidget(remove_button)
        self.button_row = buttons  # features add their buttons here (ui.teamdesk: Templates…, Save as template…)
        buttons.addStretch(1)
        buttons.addWidget(self.send_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.body, 1)
        layout.addWidget(self.attachments)
        layout.addWidget(self.status)
        layout.addLayout(buttons)

        # Ctrl+Enter sends from every field. The text edits would otherwise take it as a newline
        # (they accept the ShortcutOverride), so it is caught by an event filter, not a QShortcut.
        for widget in (self.to_field, self.cc_field, self.bcc_field, self.subject, self.body, self.from_picker):
            widget.installEventFilter(self)
        for field in (self.to_field, self.cc_field, self.bcc_field):
            field.textChanged.connect(self._show_field_errors)
        self.attachments.model().rowsInserted.connect(self._update_attachment_list)
        self.attachments.model().rowsRemoved.connect(self._update_attachment_list)
        self._load(self.draft)
        self._update_attachment_list()
        self.from_picker.currentIndexChanged.connect(self._show_recipient_view)
        self._show_recipient_view()
        self.autosave = QTimer(self)
        self.autosave.setTimerType(Qt.TimerType.PreciseTimer)  # a coarse timer may fire 5% late: >10 s lost
        self.autosave.setInterval(AUTOSAVE_SECONDS * 1000)
        self.autosave.timeout.connect(self.save_draft)
        self.autosave.start()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() in (QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride):
            key_event = event  # a QKeyEvent for these types
            if (
                key_event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)  # type: ignore[attr-defined]
                and key_event.modifiers() & Qt.KeyboardModifier.ControlModifier  # type: ignore[attr-defined]
            ):
                if event.type() == QEvent.Type.KeyPress:
                    self.request_send()
                event.accept()
                return True
        return super().eventFilter(watched, event)

    # -- identities --------------------------------------------------------------------------------

    def _fill_identities(self) -> None:
        """Own addresses first, then shared identities grouped by mailbox; denied ones never arrive here."""
        own = [i for i in self.identities if i.mode is SendMode.OWN]
        shared = sorted((i for i in self.identities if i.mode is not SendMode.OWN),
                        key=lambda i: ((i.mailbox_owner or i.address).casefold(), i.address))
        last_group = None
        for identity in own + shared:
            group = identity.mailbox_owner or identity.address if identity.mode is not SendMode.OWN else "own"
            if last_group is not None and group != last_group:
                self.from_picker.insertSeparator(self.from_picker.count())
            last_group = group
            label = f"{identity.name} <{identity.address}> — {_MODE_WORDS[identity.mode]}"
            self.from_picker.addItem(label, identity.address)
        if not self.identities:
            self.from_picker.addItem(self.tr("No identity you may send from"), "")
            self.from_picker.setEnabled(False)

    def current_identity(self) -> Identity | None:
        address = self.from_picker.currentData()
        return next((i for i in self.identities if i.address == address), None)

    def _show_recipient_view(self) -> None:
        identity = self.current_identity()
        self.recipient_view_label.setText(
            self.tr("Recipients will see: %s") % self._recipient_view(identity) if identity else ""
        )

    # -- draft <-> widgets -------------------------------------------------------------------------

    def _load(self, draft: Draft) -> None:
        index = self.from_picker.findData(draft.identity)
        if index >= 0:
            self.from_picker.setCurrentIndex(index)
        self.to_field.setText(", ".join(draft.to))
        self.cc_field.setText(", ".join(draft.cc))
        self.bcc_field.setText(", ".join(draft.bcc))
        self.subject.setText(draft.subject)
        self.body.setPlainText(draft.body)
        self.attachments.clear()
        for path in draft.attachments:
            self._add_attachment_item(path)
        if draft.subject:
            self.setWindowTitle(draft.subject)

    def current_draft(self) -> Draft:
        return replace(
            self.draft,
            identity=self.from_picker.currentData() or "",
            to=tuple(self.to_field.entries()),
            cc=tuple(self.cc_field.entries()),
            bcc=tuple(self.bcc_field.entries()),
            subject=self.subject.text(),
            body=self.body.toPlainText(),
            attachments=tuple(self.attachments.item(i).data(256) for i in range(self.attachments.count())),
        )

    def save_draft(self) -> bool:
        """Autosave (every AUTOSAVE_SECONDS and on close); a failure is shown, the old draft stays."""
        draft = self.current_draft()
        if draft == self._saved_draft or (draft.is_empty and self._saved_draft.is_empty):
            return True
        try:
            self.draft = self._saved_draft = self._drafts.save(draft)
        except SharedClientError as exc:
            self.status.setText(self.tr("Draft not saved: %s") % exc.user_message)
            return False
        return True

    def _show_field_errors(self) -> None:
        errors = [f.error for f in (self.to_field, self.cc_field, self.bcc_field) if f.error]
        self.status.setText(errors[0] if errors else "")
        self.status.setStyleSheet(f"color: {tone('error', self)}" if errors else "")

    def _update_attachment_list(self) -> None:
        self.attachments.setVisible(self.attachments.count() > 0)

    # -- attachments -------------------------------------------------------------------------------

    def _add_attachment_item(self, path: str) -> None:
        p = Path(path)
        size = human_size(p.stat().st_size) if p.is_file() else self.tr("missing")
        item = QListWidgetItem(f"{p.name}  ({size})")
        item.setData(256, str(p))
        self.attachments.addItem(item)

    def add_attachments(self, paths: Sequence[str]) -> None:
        for path in paths:
            if Path(path).is_file():
                self._add_attachment_item(path)
            else:
                self.status.setText(self.tr("Not attached: %s is not a readable file.") % path)

    def _choose_attachments(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, self.tr("Attach files"))
        self.add_attachments(paths)

    def _remove_attachment(self) -> None:
        for item in self.attachments.selectedItems():
            self.attachments.takeItem(self.attachments.row(item))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        self.add_attachments([u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()])
        event.acceptProposedAction()

    # -- sending -----------------------------------------------------------------------------------

    def validation_error(self) -> str:
        if self.current_identity() is None:
            return self.tr("Choose who the message is from.")
        for field in (self.to_field, self.cc_field, self.bcc_field):
            if field.error:
                return field.error
        if not (self.to_field.entries() or self.cc_field.entries() or self.bcc_field.entries()):
            return self.tr("Add at least one recipient.")
        return ""

    def request_send(self) -> None:
        if self._sending:
            return
        error = self.validation_error()
        if error:
            self.status.setText(error)
            return
        self.save_draft()  # the text survives whatever happens next
        self._sending = True
        self.send_button.setEnabled(False)
        self.status.setText(self.tr("Sending…"))
        self.send_requested.emit(self.current_draft())

    def sent(self, note: str = "") -> None:
        """The message is safely in the outbox (or delivered): the draft is no longer needed."""
        self._drafts.delete(self.draft.id)
        self._saved_draft = self.current_draft()
        self._sending = False
        if note:
            QMessageBox.information(self, self.tr("Sent"), note)
        self.close()

    def send_failed(self, sentence: str) -> None:
        self._sending = False
        self.send_button.setEnabled(True)
        self.status.setText(sentence)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        draft = self.current_draft()
        if not self._sending and draft != self._saved_draft and not draft.is_empty:
            answer = self.ask_on_close()
            if answer == QMessageBox.StandardButton.Cancel:
                event.ignore()
                return
            if answer == QMessageBox.StandardButton.Save and not self.save_draft():
                event.ignore()
                return
            if answer == QMessageBox.StandardButton.Discard:
                self._drafts.delete(self.draft.id)
        elif draft.is_empty:
            self._drafts.delete(self.draft.id)
        self.autosave.stop()
        self.closed.emit(self.draft.id)
        super().closeEvent(event)

    def ask_on_close(self) -> QMessageBox.StandardButton:
        """Replaceable in tests; the real one asks the user."""
        return QMessageBox.question(
            self,
            self.tr("Unsent message"),
            self.tr("This message has not been sent. Keep it as a draft?"),
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
