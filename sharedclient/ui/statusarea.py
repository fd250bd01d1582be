"""Status bar pieces: each account's connection state, and progress with Cancel for long operations."""

from __future__ import annotations

import html
from collections.abc import Callable

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from sharedclient.core.model import Account
from sharedclient.core.worker import ConnectionState
from sharedclient.ui.palette import tone

_STATE_TONES = {  # ui.palette meanings, so the dot stays visible in dark themes
    ConnectionState.ONLINE: "ok",
    ConnectionState.CONNECTING: "warning",
    ConnectionState.AUTH_FAILED: "error",
    ConnectionState.TLS_FAILED: "error",
    ConnectionState.OFFLINE: "neutral",
    ConnectionState.IDLE: "neutral",
}


class AccountStatus(QLabel):
    """"● alice@example.test: online" in the status bar; the detail sentence as tooltip."""

    def __init__(self, account: Account, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.account = account
        self.setObjectName(f"status-{account.name}")
        self.show_state(ConnectionState.IDLE, "")

    def show_state(self, state: ConnectionState, detail: str) -> None:
        self.state, self.detail = state, detail
        colour = tone(_STATE_TONES[state], self)
        text = self._words(state)
        if state is ConnectionState.OFFLINE and "Retrying in" in detail:
            text = self.tr("offline, retrying in %1").replace("%1", detail.rsplit("Retrying in ", 1)[1].rstrip("."))
        self.setText(f'<span style="color:{colour}">●</span> {html.escape(self.account.email)}: {html.escape(text)}')
        self.setToolTip(detail or self.tr("%1 is %2").replace("%1", self.account.email).replace("%2", text))
        self.setAccessibleName(f"{self.account.email}: {text}")

    def _words(self, state: ConnectionState) -> str:
        return {
            ConnectionState.IDLE: self.tr("not connected"),
            ConnectionState.CONNECTING: self.tr("connecting"),
            ConnectionState.ONLINE: self.tr("online"),
            ConnectionState.AUTH_FAILED: self.tr("authentication failed"),
            ConnectionState.TLS_FAILED: self.tr("TLS failed"),
            ConnectionState.OFFLINE: self.tr("offline"),
        }[state]

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.PaletteChange:
            self.show_state(self.state, self.detail)  # the system switched light/dark
        super().changeEvent(event)



class BusyIndicator(QWidget):
    """"Fetching headers [====    ] 300 of 900 [Cancel]"; a busy bar when the total is unknown."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("busyIndicator")
        self._cancel: Callable[[], None] | None = None
        self.label = QLabel()
        self.label.setObjectName("busyLabel")
        self.progress = QProgressBar()
        self.progress.setObjectName("syncProgress")
        self.progress.setAccessibleName(self.tr("Progress"))
        self.progress.setMaximumWidth(220)
        self.progress.setFormat(self.tr("%v of %m"))
        self.cancel_button = QPushButton(self.tr("Cancel"))
        self.cancel_button.setObjectName("cancelSync")
        self.cancel_button.setAccessibleName(self.tr("Cancel the running operation"))
        self.cancel_button.clicked.connect(self.cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.progress)
        layout.addWidget(self.cancel_button)
        self.hide()

    @property
    def active(self) -> bool:
        return self._cancel is not None

    def start(self, text: str, done: int, total: int, cancel: Callable[[], None]) -> None:
        self._cancel = cancel
        self.label.setText(text)
        self.progress.setMaximum(total)
        self.progress.setValue(done)
        self.progress.setTextVisible(total > 0)
        self.setAccessibleDescription(f"{text} {done}/{total}" if total else text)
        self.show()

    def stop(self) -> None:
        self._cancel = None
        self.hide()

    def cancel(self) -> None:
        cancel = self._cancel
        self.stop()
        if cancel is not None:
            cancel()
