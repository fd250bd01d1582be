"""Internal notes under the message: the conversation's notes (author, time, text) and an "Add note" box.

Notes are read from the shared mailbox's Notes folder each time a message is shown, after every sync of
that account, and when IDLE reports a change in the Notes folder (so a teammate's note appears by
itself). Without ``i`` on Notes (or ``k`` to create it) the box is disabled and says why.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from concurrent.futures import Future
from email.headerregistry import Address

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from sharedclient.core.errors import SharedClientError
from sharedclient.core.model import Folder
from sharedclient.core.teamdesk.notes import Conversation, Note, NoteList, conversation_of, is_note
from sharedclient.core.teamdesk.service import TeamDesk
from sharedclient.ui.bridge import MainThreadBridge
from sharedclient.ui.messageview import SafeBrowser
from sharedclient.ui.palette import is_dark, muted, tone

log = logging.getLogger(__name__)
MAX_NOTES_HEIGHT = 160


def note_html(note: Note, muted_colour: str = "#777") -> str:
    when = note.date.astimezone().strftime("%a %d %b %Y, %H:%M") if note.date else ""
    text = html.escape(note.text).replace("\n", "<br>")
    return (
        f"<p style='margin:0 0 6px 0'><b>{html.escape(note.author)}</b>"
        f" <span style='color:{muted_colour}'>· {html.escape(when)}</span><br>{text}</p>"
    )


class NotesPanel(QFrame):
    """The widget; :class:`NotesController` feeds it. ``add_requested(text)`` when the agent adds a note."""

    add_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("notesPanel")
        self._dark = False
        self.title = QLabel(
            self.tr("<b>Internal notes</b> — only your team sees these; they are never sent or quoted.")
        )
        self.title.setObjectName("notesTitle")
        self.view = SafeBrowser()
        self.view.setObjectName("notesView")
        self.status = QLabel()
        self.status.setObjectName("notesStatus")
        self.status.setWordWrap(True)
        self.input = QPlainTextEdit()
        self.input.setObjectName("noteInput")
        self.input.setAccessibleName(self.tr("New note"))
        self.input.setPlaceholderText(self.tr("Add a note for your team (Ctrl+Enter)…"))
        self.input.setFixedHeight(48)
        self.input.installEventFilter(self)
        self.input.textChanged.connect(self._update_button)
        self.add_button = QPushButton(self.tr("Add note"))
        self.add_button.setObjectName("addNoteButton")
        self.add_button.clicked.connect(self._request_add)
        row = QHBoxLayout()
        row.addWidget(self.input, 1)
        row.addWidget(self.add_button, 0, Qt.AlignmentFlag.AlignBottom)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.view)
        layout.addWidget(self.status)
        layout.addLayout(row)
        self._reason = ""
        self._busy = False
        self._style()
        self.show_notes([], "")

    def show_notes(self, notes: list[Note], reason: str, problem: str = "") -> None:
        """The notes, and why adding is not possible ("" when it is)."""
        self._reason = reason
        self._busy = False
        if notes:
            self.view.setHtml("".join(note_html(n, muted(self)) for n in notes))
        else:
            empty = html.escape(self.tr("No notes on this conversation yet."))
            self.view.setHtml(f"<span style='color:{muted(self)}'>{empty}</span>")
        self._fit()
        self.status.setText(problem or reason)
        self.status.setVisible(bool(problem or reason))
        self.input.setEnabled(not reason)
        self.add_button.setToolTip(reason or self.tr("Add the note to the shared Notes folder"))
        self._update_button()

    def _style(self) -> None:
        """A warm tint marks the notes as internal; one shade for light and one for dark themes."""
        dark = self._dark = is_dark(self.palette())
        background, border = ("#3b3320", "#6d5a2a") if dark else ("#fffbea", "#f0d98c")
        self.setStyleSheet(
            f"#notesPanel {{ background: {background}; border: 1px solid {border}; border-radius: 3px; }}"
        )
        self.status.setStyleSheet(f"color: {tone('warning', self)}")

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.PaletteChange and is_dark(self.palette()) != self._dark:
            self._style()  # the system switched light/dark (setStyleSheet itself changes the palette too)
        super().changeEvent(event)

    def _fit(self) -> None:
        """As tall as the notes (up to MAX_NOTES_HEIGHT, then it scrolls), so the message keeps its room."""
        document = self.view.document()
        document.setTextWidth(max(200, self.view.viewport().width()))
        height = int(document.size().height()) + 2 * self.view.frameWidth() + 4
        self.view.setFixedHeight(max(36, min(MAX_NOTES_HEIGHT, height)))
        bar = self.view.verticalScrollBar()
        bar.setValue(bar.maximum())  # the newest note is the one to see

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._fit()  # wrapping changes with the width

    def show_loading(self) -> None:
        self.status.setText(self.tr("Loading notes…"))
        self.status.setVisible(True)

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        if busy:
            self.status.setText(self.tr("Adding the note…"))
            self.status.setVisible(True)
        self._update_button()

    def _update_button(self) -> None:
        self.add_button.setEnabled(not self._reason and not self._busy and bool(self.input.toPlainText().strip()))

    def _request_add(self) -> None:
        text = self.input.toPlainText().strip()
        if text and self.add_button.isEnabled():
            self.add_requested.emit(text)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if watched is self.input and event.type() in (QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride):
            key, mods = event.key(), event.modifiers()  # type: ignore[attr-defined] - a QKeyEvent here
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and mods & Qt.KeyboardModifier.ControlModifier:
                if event.type() == QEvent.Type.KeyPress:
                    self._request_add()
                event.accept()
                return True
        return super().eventFilter(watched, event)


class NotesController(QObject):
    """Keeps the panel in step with the message shown in ``window`` (a MainWindow)."""

    def __init__(self, window: object, author_for: Callable[[str], Address]) -> None:
        super().__init__(window)  # type: ignore[arg-type]
        self.window = window
        self._author_for = author_for
        self._bridge = MainThreadBridge(self)
        self.panel = NotesPanel()
        self.panel.hide()
        self._generation = 0
        self._target: tuple[Folder, Conversation] | None = None
        self._notes_path: dict[str, str] = {}  # account -> its Notes folder being watched
        self._pending: Future[NoteList] | None = None
        self._desks: dict[str, TeamDesk] = {}
        view = window.view  # type: ignore[attr-defined]
        view.layout().addWidget(self.panel)
        view.message_changed.connect(self.reload)
        controller = window.controller  # type: ignore[attr-defined]
        controller.synced.connect(lambda name, _path, _result: self._refresh_if(name))
        controller.mailbox_changed.connect(lambda name, path: self._refresh_if(name, path))
        self.panel.add_requested.connect(self.add)

    def _desk(self, folder: Folder) -> TeamDesk | None:
        """One TeamDesk per account session, so the located Notes folder is reused between messages."""
        session = self.window.controller.sessions.get(folder.account)  # type: ignore[attr-defined]
        if session is None:
            return None
        desk = self._desks.get(folder.account)
        if desk is None or desk.session is not session:
            desk = self._desks[folder.account] = TeamDesk(session)
        return desk

    def reload(self) -> None:
        """The message shown changed: show its conversation's notes (or hide the panel)."""
        self._generation += 1
        folder, raw = self.window.current, self.window.view.raw  # type: ignore[attr-defined]
        self._target = None
        if folder is None or not raw:
            self.panel.hide()
            return
        self.panel.show()
        if is_note(raw):
            self.panel.show_notes([], self.tr("This is an internal note itself."))
            return
        try:
            about = conversation_of(raw)
        except SharedClientError as exc:
            self.panel.show_notes([], exc.user_message)
            return
        self._target = (folder, about)
        self._load()

    def _refresh_if(self, account: str, path: str | None = None) -> None:
        if self._target is not None and self._target[0].account == account:
            if path is None or path in (self._target[0].path, self._notes_path.get(account)):
                self._load()

    def _load(self) -> None:
        if self._target is None:
            return
        folder, about = self._target
        desk = self._desk(folder)
        if desk is None:
            return
        generation = self._generation
        self.panel.show_loading()
        if self._pending is not None:
            self._pending.cancel()  # still queued behind other jobs: arrowing through a list must not pile up
        self._pending = desk.notes(folder.path, about)
        self._bridge.when_done(
            self._pending,
            lambda found: self._show(generation, found),
            lambda err: self._failed(generation, err),
        )

    def _show(self, generation: int, found: NoteList) -> None:
        if generation != self._generation:
            return  # another message is shown by now
        desk = found.desk
        hidden = desk.folder is not None and not desk.readable
        unreadable = self.tr("You may not read the notes here.") if hidden else ""
        self.panel.show_notes(list(found.notes), desk.reason, unreadable)
        if desk.folder is not None and self._target is not None:
            account = self._target[0].account
            old = self._notes_path.get(account)
            if old != desk.folder.path:
                controller = self.window.controller  # type: ignore[attr-defined]
                if old is not None and old != self.window.current.path:  # type: ignore[attr-defined]
                    controller.unwatch(account, old)  # one watched Notes folder per account, not one per visit
                self._notes_path[account] = desk.folder.path  # IDLE on it: a teammate's note shows by itself
                controller.watch(account, desk.folder.path)

    def _failed(self, generation: int, err: SharedClientError) -> None:
        if generation == self._generation:
            self.panel.show_notes([], "", err.user_message)

    def add(self, text: str) -> None:
        if self._target is None:
            return
        folder, about = self._target
        desk = self._desk(folder)
        if desk is None:
            return
        self.panel.set_busy(True)
        generation = self._generation
        self._bridge.when_done(
            desk.add_note(folder.path, about, text, self._author_for(folder.account)),
            lambda _note: self._added(generation),
            lambda err: self._add_failed(err),
        )

    def _added(self, generation: int) -> None:
        self.panel.set_busy(False)
        self.panel.input.clear()
        if generation == self._generation:
            self._load()

    def _add_failed(self, err: SharedClientError) -> None:
        self.panel.set_busy(False)
        self.panel.status.setText(err.user_message)  # the text stays in the box: nothing typed is lost
        self.panel.status.setVisible(True)
