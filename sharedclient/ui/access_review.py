"""The "Access review" window: who holds which rights on every mailbox the user administers.

One table for all accounts; entries that deserve a look (``anyone``/``authenticated`` with any right,
someone besides the owner who may administer) are highlighted with the reason. CSV export uses the same
columns as ``sharedclient acl review --csv``. Reading happens as one job per account on its worker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from sharedclient.core.account_session import AccountSession
from sharedclient.core.errors import SharedClientError, StorageError
from sharedclient.core.fileio import atomic_write
from sharedclient.core.imap.acl import AccessReview, ReviewRow, access_review, review_csv
from sharedclient.ui.bridge import MainThreadBridge

if TYPE_CHECKING:
    from sharedclient.ui.mainwindow import MainWindow

log = logging.getLogger(__name__)

COLUMNS = ("Account", "Mailbox", "Owner", "Who", "Rights", "Needs a look", "What they may do")
RISK_COLUMN = 5
RISK_BACKGROUND = QColor("#fde7e7")
RISK_FOREGROUND = QColor("#8e1b1b")


class AccessReviewWindow(QWidget):
    """``sessions``: account name -> AccountSession; ``choose_file`` returns a path to save CSV to, or ""."""

    def __init__(
        self,
        sessions: dict[str, AccountSession],
        bridge: MainThreadBridge,
        *,
        choose_file: Callable[[], str] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.sessions = sessions
        self._bridge = bridge
        self.choose_file = choose_file or self._ask_file
        self.reviews: dict[str, AccessReview] = {}
        self.errors: dict[str, str] = {}
        self._pending = 0
        self._closed = False
        self.setObjectName("accessReview")
        self.setWindowTitle(self.tr("Access review"))
        self.resize(1250, 520)

        layout = QVBoxLayout(self)
        intro = QLabel(
            self.tr(
                "Every mailbox you administer and who holds which rights on it, exactly as the server reports them. "
                "Highlighted rows deserve a look."
            )
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.summary = QLabel(self.tr("Reading permissions from the server…"))
        self.summary.setObjectName("reviewSummary")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("reviewTable")
        self.table.setHorizontalHeaderLabels([self.tr(c) for c in COLUMNS])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSortingEnabled(False)
        self.table.setWordWrap(False)  # long texts are elided; the tooltip has them in full
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        for column in range(RISK_COLUMN):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(RISK_COLUMN, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(RISK_COLUMN, 320)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table, 1)
        buttons = QHBoxLayout()
        self.only_risky = QCheckBox(self.tr("Only rows that need a look"))
        self.only_risky.setObjectName("onlyRisky")
        self.only_risky.toggled.connect(self._fill)
        self.refresh_button = QPushButton(self.tr("Refresh"))
        self.refresh_button.setObjectName("refreshReview")
        self.refresh_button.clicked.connect(self.refresh)
        self.export_button = QPushButton(self.tr("Export CSV…"))
        self.export_button.setObjectName("exportCsv")
        self.export_button.clicked.connect(self.export_csv)
        close = QPushButton(self.tr("Close"))
        close.clicked.connect(self.close)
        buttons.addWidget(self.only_risky)
        buttons.addStretch(1)
        buttons.addWidget(self.refresh_button)
        buttons.addWidget(self.export_button)
        buttons.addWidget(close)
        layout.addLayout(buttons)
        self.refresh()

    # -- loading ---------------------------------------------------------------------------------

    @property
    def loading(self) -> bool:
        return self._pending > 0

    def refresh(self) -> None:
        if self._pending:
            return
        self.reviews.clear()
        self.errors.clear()
        self._pending = len(self.sessions)
        self.refresh_button.setEnabled(False)
        self.export_button.setEnabled(False)
        self.summary.setText(self.tr("Reading permissions from the server…"))
        if not self.sessions:
            self._pending = 0
            self._fill()
        for name, session in self.sessions.items():
            account = session.account
            self._bridge.when_done(
                session.worker.submit(lambda conn, a=account: access_review(conn.client, a)),
                lambda review, n=name: self._arrived(n, review, None),
                lambda err, n=name: self._arrived(n, None, err),
            )

    def _arrived(self, name: str, review: AccessReview | None, error: SharedClientError | None) -> None:
        if self._closed or not isValid(self):  # closed, or deleted with the main window
            return
        self._pending -= 1
        if review is not None:
            self.reviews[name] = review
        if error is not None:
            self.errors[name] = error.user_message
        if not self._pending:
            self.refresh_button.setEnabled(True)
            self.export_button.setEnabled(True)
            self._fill()

    def rows(self) -> list[ReviewRow]:
        """All rows, by account and mailbox; each mailbox's entries in the server's order."""
        rows = [row for name in sorted(self.reviews) for row in self.reviews[name].rows]
        return sorted(rows, key=lambda r: (r.account, r.mailbox.casefold()))  # stable: keeps entry order

    def _fill(self) -> None:
        rows = self.rows()
        shown = [r for r in rows if r.risky] if self.only_risky.isChecked() else rows
        self.table.setRowCount(len(shown))
        bold = QFont()
        bold.setBold(True)
        for index, row in enumerate(shown):
            values = (row.account, row.mailbox, row.owner, row.identifier, row.rights,
                      f"⚠ {row.risk}" if row.risky else "", row.words)  # fmt: skip
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setToolTip(row.risk or value)
                if row.risky:
                    item.setBackground(QBrush(RISK_BACKGROUND))
                    item.setForeground(QBrush(RISK_FOREGROUND))
                    if column == 3:
                        item.setFont(bold)
                self.table.setItem(index, column, item)
        self.table.setColumnHidden(0, len(self.sessions) <= 1)  # one account: the column says nothing
        mailboxes = sum(len(r.mailboxes) for r in self.reviews.values())
        risky = sum(1 for r in rows if r.risky)
        parts = [
            f"{mailboxes} mailbox{'es' if mailboxes != 1 else ''} you administer in {len(self.reviews)} "
            f"account{'s' if len(self.reviews) != 1 else ''}",
            f"{len(rows)} entr{'ies' if len(rows) != 1 else 'y'}",
            f"{risky} need{'s' if risky == 1 else ''} a look",
        ]
        text = ", ".join(parts) + "."
        problems = [f"{name}: {msg}" for name, msg in sorted(self.errors.items())]
        problems += [f"{r.account}: {p}" for r in self.reviews.values() for p in r.problems]
        if problems:
            text += " Could not read: " + "; ".join(problems)
        self.summary.setText(text)

    # -- export ----------------------------------------------------------------------------------

    def _ask_file(self) -> str:
        path, _filter = QFileDialog.getSaveFileName(
            self, self.tr("Export access review"), "access-review.csv", self.tr("CSV files (*.csv)")
        )
        return path

    def export_csv(self) -> Path | None:
        target = self.choose_file()
        if not target:
            return None
        path = Path(target)
        try:
            atomic_write(path, review_csv(self.rows()).encode("utf-8"))
        except (OSError, StorageError) as exc:
            text = exc.user_message if isinstance(exc, StorageError) else str(exc)
            self.summary.setText(f"The review could not be saved to {path}: {text}")
            return None
        self.summary.setText(self.summary.text().split(" Saved to ")[0] + f" Saved to {path}.")
        return path

    def closeEvent(self, event) -> None:  # type: ignore[no-untyped-def]  # noqa: N802 - Qt override
        self._closed = True
        super().closeEvent(event)


def open_access_review(window: MainWindow) -> AccessReviewWindow:
    review = AccessReviewWindow(window.controller.sessions, window.controller._bridge, parent=window)  # noqa: SLF001
    review.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    window.access_review_window = review  # type: ignore[attr-defined]
    review.show()
    return review
