"""The search row above the message list.

Sender/recipient/subject search runs in the local FTS index as you type; "Search message text on the
server" asks the server (IMAP SEARCH TEXT), shown as progress with Cancel.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLineEdit, QWidget

from sharedclient.core.errors import SharedClientError
from sharedclient.core.model import Folder

if TYPE_CHECKING:
    from sharedclient.ui.mainwindow import MainWindow


class SearchRow(QWidget):
    def __init__(self, window: MainWindow) -> None:
        super().__init__()
        self.window = window
        self.generation = 0  # bumped by every new search or cancel: late answers are dropped
        self.box = QLineEdit()
        self.box.setObjectName("searchBox")
        self.box.setAccessibleName(self.tr("Search messages"))
        self.box.setPlaceholderText(self.tr("Search sender, recipients, subject… (Ctrl+K)"))
        self.box.setClearButtonEnabled(True)
        self.server = QCheckBox(self.tr("Search message text on the server"))
        self.server.setObjectName("serverSearch")
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(300)
        self.timer.timeout.connect(self.run)
        self.box.textChanged.connect(lambda _: self.timer.start())
        self.server.toggled.connect(lambda _: self.timer.start())
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.box, 1)
        layout.addWidget(self.server)

    def focus(self) -> None:
        self.box.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.box.selectAll()

    def run(self) -> None:
        w = self.window
        text = self.box.text().strip()
        folder = w.current
        self.generation += 1
        if not (self.server.isChecked() and text and folder):
            w.model.set_search(text)
            return
        session = w.controller.sessions[folder.account]
        generation = self.generation
        future: Future[list[int]] = session.search_text(folder.path, text)

        def cancel() -> None:
            self.generation += 1
            future.cancel()
            w.statusBar().showMessage(self.tr("Server search cancelled."), 5000)

        w.busy.start(self.tr("Searching the server…"), 0, 0, cancel)
        w.controller._bridge.when_done(  # noqa: SLF001
            future,
            lambda uids, t=text, f=folder: self._results(t, f, uids, generation),
            lambda err: self._failed(folder.account, err, generation),
        )

    def _failed(self, account: str, err: SharedClientError, generation: int) -> None:
        if generation == self.generation:
            self.window.busy.stop()
            self.window.report_error(err, account)

    def _results(self, text: str, folder: Folder, uids: list[int], generation: int) -> None:
        if generation != self.generation:
            return
        w = self.window
        w.busy.stop()
        if folder is w.current and text == self.box.text().strip() and self.server.isChecked():
            w.model.set_search("", frozenset(uids))
            w.statusBar().showMessage(
                self.tr("%1 messages contain “%2”.").replace("%1", str(len(uids))).replace("%2", text), 8000)
