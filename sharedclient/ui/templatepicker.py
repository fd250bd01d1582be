"""The template picker (Ctrl+T in the composer): type to filter, preview with placeholders filled, insert.

The preview shows exactly what will be inserted; placeholders that cannot be filled are highlighted
there and after insertion in the message, and named in the status line, so they are never sent by
mistake. Templates come from the server each time the picker opens (a teammate's new one is there).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QSplitter,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from sharedclient.core.errors import SharedClientError
from sharedclient.core.teamdesk.placeholders import Filled, fill
from sharedclient.core.teamdesk.templates import Template, TemplateList
from sharedclient.ui.palette import tone

UNFILLED_BACKGROUND = QColor("#ffe082")  # amber: "look here before sending", readable in light and dark
UNFILLED_FOREGROUND = QColor("#4e342e")
TEMPLATE_ROLE = Qt.ItemDataRole.UserRole


def unfilled_format() -> QTextCharFormat:
    fmt = QTextCharFormat()
    fmt.setBackground(UNFILLED_BACKGROUND)
    fmt.setForeground(UNFILLED_FOREGROUND)
    fmt.setFontWeight(700)
    return fmt


def insert_filled(editor: QPlainTextEdit | QTextEdit, filled: Filled) -> None:
    """Insert at the cursor (replacing a selection) as one undo step, unfilled placeholders highlighted."""
    cursor = editor.textCursor()
    plain = QTextCharFormat()
    cursor.beginEditBlock()
    cursor.removeSelectedText()
    pos = 0
    for item in filled.unfilled:
        cursor.insertText(filled.text[pos : item.start], plain)
        cursor.insertText(filled.text[item.start : item.end], unfilled_format())
        pos = item.end
    cursor.insertText(filled.text[pos:], plain)
    cursor.endEditBlock()
    editor.setTextCursor(cursor)
    editor.setCurrentCharFormat(plain)  # what the agent types next is not highlighted


def _where(template: Template) -> str:
    return "personal" if template.where == "your mailbox" else template.where.removesuffix("'s mailbox")


class TemplatePicker(QDialog):
    """Choose a template; ``chosen`` and ``filled`` hold the result after ``accept()``."""

    def __init__(self, values: Callable[[], dict[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("templatePicker")
        self.setWindowTitle(self.tr("Insert template"))
        self.resize(720, 440)
        self._values = values
        self.templates: list[Template] = []
        self.chosen: Template | None = None
        self.filled: Filled | None = None

        self.filter = QLineEdit()
        self.filter.setObjectName("templateFilter")
        self.filter.setPlaceholderText(self.tr("Type to filter by name or text…"))
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._apply_filter)
        self.filter.installEventFilter(self)
        self.list = QListWidget()
        self.list.setObjectName("templateList")
        self.list.setWordWrap(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setAlternatingRowColors(True)
        self.list.currentItemChanged.connect(lambda *_: self._show_preview())
        self.list.itemActivated.connect(lambda _item: self.accept())
        self.preview = QTextEdit()
        self.preview.setObjectName("templatePreview")
        self.preview.setReadOnly(True)
        self.preview.setAcceptRichText(False)
        self.info = QLabel()
        self.info.setObjectName("templateInfo")
        self.info.setWordWrap(True)
        self.status = QLabel(self.tr("Loading templates…"))
        self.status.setObjectName("templateStatus")
        self.status.setWordWrap(True)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.preview, 1)
        right_layout.addWidget(self.info)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.list)
        split.addWidget(right)
        split.setSizes([260, 460])
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.insert_button = self.buttons.addButton(self.tr("Insert"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.insert_button.setObjectName("insertTemplate")
        self.insert_button.setEnabled(False)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter)
        layout.addWidget(split, 1)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self.filter.setFocus()

    # -- filling -----------------------------------------------------------------------------------

    def set_lists(self, lists: Sequence[TemplateList | SharedClientError]) -> None:
        """Show what the worker found: templates of each mailbox, or why one could not be read."""
        seen: set[str] = set()
        self.templates = []
        problems = []
        for entry in lists:
            if isinstance(entry, SharedClientError):
                problems.append(entry.user_message)
                continue
            folder = entry.desk.folder
            if folder is not None and folder.path in seen:
                continue  # the shared and the personal lookup found the same folder
            if folder is not None:
                seen.add(folder.path)
            self.templates += entry.templates
        if not self.templates:
            none_yet = self.tr("There are no templates yet. Write one in a message and use “Save as template…”.")
            problems.insert(0, none_yet)
        self.status.setText(" ".join(problems))
        self._apply_filter()

    def set_error(self, sentence: str) -> None:
        self.status.setText(sentence)

    def _apply_filter(self) -> None:
        query = self.filter.text()
        current = self.list.currentItem().data(TEMPLATE_ROLE) if self.list.currentItem() else None
        self.list.clear()
        for template in self.templates:
            if template.matches(query):
                item = QListWidgetItem(f"{template.name}\n{_where(template)}")
                item.setData(TEMPLATE_ROLE, template)
                item.setToolTip(template.body[:500])
                self.list.addItem(item)
        rows = [self.list.item(i).data(TEMPLATE_ROLE) for i in range(self.list.count())]
        self.list.setCurrentRow(rows.index(current) if current in rows else (0 if rows else -1))
        if not rows:
            self._show_preview()

    def _show_preview(self) -> None:
        item = self.list.currentItem()
        template: Template | None = item.data(TEMPLATE_ROLE) if item is not None else None
        self.insert_button.setEnabled(template is not None)
        if template is None:
            self.filled = None
            self.preview.clear()
            self.info.setText(self.tr("No template matches.") if self.templates else "")
            return
        self.filled = fill(template.body, self._values())
        self.preview.setPlainText("")
        insert_filled(self.preview, self.filled)
        self.preview.moveCursor(QTextCursor.MoveOperation.Start)
        details = [f"From {template.where}", f"by {template.author}" if template.author else ""]
        if template.attachments:
            details.append(self.tr("attaches %s") % ", ".join(template.attachments))
        text = html.escape(" · ".join(d for d in details if d))
        if self.filled.unfilled:
            summary = html.escape(self.filled.summary())
            text += f"<br><span style='background:#ffe082;color:#4e342e'>{summary}</span>"
        self.info.setText(text)

    # -- keys --------------------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if watched is self.filter and event.type() == QEvent.Type.KeyPress:
            key = event.key()  # type: ignore[attr-defined] - a QKeyEvent for KeyPress
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up, Qt.Key.Key_PageDown, Qt.Key.Key_PageUp):
                step = {Qt.Key.Key_Down: 1, Qt.Key.Key_Up: -1, Qt.Key.Key_PageDown: 5, Qt.Key.Key_PageUp: -5}[key]
                row = max(0, min(self.list.count() - 1, self.list.currentRow() + step))
                self.list.setCurrentRow(row)
                return True
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                if self.list.currentItem() is not None:
                    self.accept()
                return True
        return super().eventFilter(watched, event)

    def accept(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        self.chosen = item.data(TEMPLATE_ROLE)
        if self.filled is None:
            self._show_preview()
        super().accept()


class SaveTemplateDialog(QDialog):
    """Name the new template and choose where it goes; places the user may not add to say why.

    Save emits ``save_requested``; the owner stores it and calls ``accept()``, or ``failed(sentence)``.
    """

    save_requested = Signal()

    def __init__(self, body: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("saveTemplateDialog")
        self.setWindowTitle(self.tr("Save as template"))
        self.resize(560, 420)
        self.name = QLineEdit()
        self.name.setObjectName("templateName")
        self.name.setPlaceholderText(self.tr("e.g. Refund – double charge"))
        self.destination = QComboBox()
        self.destination.setObjectName("templateDestination")
        self.body = QPlainTextEdit(body)
        self.body.setObjectName("templateBody")
        self.reason = QLabel(self.tr("Checking where you may save templates…"))
        self.reason.setObjectName("templateSaveReason")
        self.reason.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setEnabled(False)
        self.buttons.accepted.connect(self._request_save)
        self.buttons.rejected.connect(self.reject)
        self.reason.setStyleSheet(f"color: {tone('warning', self)}")
        form = QFormLayout()
        form.addRow(self.tr("Name:"), self.name)
        form.addRow(self.tr("Save in:"), self.destination)
        form.addRow("", self.reason)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel(self.tr("Text (placeholders such as {customer_name} are filled in on insert):")))
        layout.addWidget(self.body, 1)
        layout.addWidget(self.buttons)
        self.name.textChanged.connect(self._update)
        self.destination.currentIndexChanged.connect(self._update)
        self._reasons: list[str] = []
        self._busy = False

    def _request_save(self) -> None:
        if self.save_button.isEnabled():
            self.save_requested.emit()

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        if busy:
            self.reason.setText(self.tr("Saving…"))
        self._update()

    def failed(self, sentence: str) -> None:
        self.set_busy(False)
        self.reason.setText(self.tr("Not saved: %s") % sentence)

    def set_destinations(self, choices: Sequence[tuple[str, str, str]]) -> None:
        """(mailbox path, label, reason it cannot be used or "") for each place."""
        self.destination.clear()
        self._reasons = []
        for path, label, reason in choices:
            self.destination.addItem(label if not reason else f"{label} (not allowed)", path)
            self._reasons.append(reason)
        usable = next((i for i, r in enumerate(self._reasons) if not r), 0)
        self.destination.setCurrentIndex(usable)
        self._update()

    def _update(self) -> None:
        index = self.destination.currentIndex()
        reason = self._reasons[index] if 0 <= index < len(self._reasons) else ""
        if not self._busy:
            self.reason.setText(reason)
        self.save_button.setEnabled(bool(self.name.text().strip()) and index >= 0 and not reason and not self._busy)
