"""The "Activity" window: the profile's audit trail with filters, CSV export and a chain check.

Who opened, read, changed, sent or exported what, as the team lead asks it: filter by action group
(``message``, ``send``, ``dlp`` …), by any text (an address, a mailbox, a Message-ID) and by date. It reads
its own connection to ``audit.sqlite`` (WAL lets it read while the window's writer appends); the newest
:data:`MAX_ROWS` matching entries are shown. An export goes through the same CSV form as
``sharedclient audit --csv`` and is itself recorded (``audit.export``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QAction, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from sharedclient.core.auditing import NO_AUDIT, AuditRecorder
from sharedclient.core.errors import SharedClientError, StorageError
from sharedclient.core.store.audit import AuditEntry, AuditLog, write_csv
from sharedclient.ui.bridge import MainThreadBridge

log = logging.getLogger(__name__)

MAX_ROWS = 5000
GROUPS = ("", "profile", "login", "mailbox", "message", "attachment", "send", "permission", "dlp", "volume",
          "identity", "account", "acl", "audit")  # fmt: skip
COLUMNS = ("#", "Time", "Person", "Account", "Action", "Target", "Result", "Details")
_BAD_RESULTS = {"denied", "refused", "failed", "uncertain"}


def _text(value: Any) -> str:
    if value is None or value == {} or value == "":
        return ""
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_text(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class AuditModel(QAbstractTableModel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entries: list[AuditEntry] = []

    def set_entries(self, entries: list[AuditEntry]) -> None:
        self.beginResetModel()
        self.entries = list(reversed(entries))  # newest first
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.entries)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        entry = self.entries[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self.cell(entry, index.column())
        if role == Qt.ItemDataRole.ToolTipRole and index.column() in (5, 7):
            return json.dumps(entry.target if index.column() == 5 else entry.details, ensure_ascii=False, indent=1)
        if role == Qt.ItemDataRole.ForegroundRole and entry.result in _BAD_RESULTS:
            return QColor("#b71c1c")
        return None

    @staticmethod
    def cell(entry: AuditEntry, column: int) -> str:
        if column == 0:
            return str(entry.seq)
        if column == 1:
            try:
                return datetime.fromisoformat(entry.time).astimezone().strftime("%Y-%m-%d %H:%M:%S")
            except ValueError:
                return entry.time
        return _text((None, None, entry.user, entry.account, entry.action, entry.target, entry.result,
                      entry.details)[column])  # fmt: skip


class ActivityView(QWidget):
    def __init__(
        self, open_log: Callable[[], AuditLog], audit: AuditRecorder = NO_AUDIT, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("activityView")
        self.setWindowTitle(self.tr("Activity"))
        self.resize(1100, 560)
        self._open_log = open_log
        self._audit = audit
        self.action = QComboBox()
        self.action.setObjectName("actionFilter")
        self.action.setAccessibleName("Action")
        self.action.setEditable(True)  # a group from the list, or an exact action such as dlp.override
        self.action.addItems(GROUPS)
        self.action.setItemText(0, "")
        self.action.lineEdit().setPlaceholderText(self.tr("all actions"))
        self.text = QLineEdit()
        self.text.setObjectName("textFilter")
        self.text.setPlaceholderText(self.tr("address, mailbox, Message-ID, person…"))
        self.since = QLineEdit()
        self.since.setObjectName("sinceFilter")
        self.since.setPlaceholderText(self.tr("since YYYY-MM-DD"))
        self.since.setMaximumWidth(160)
        refresh = QPushButton(self.tr("Refresh"))
        refresh.setObjectName("refreshActivity")
        refresh.clicked.connect(self.reload)
        self.export_button = QPushButton(self.tr("Export CSV…"))
        self.export_button.setObjectName("exportActivity")
        self.export_button.clicked.connect(self.export)
        self.verify_button = QPushButton(self.tr("Verify chain"))
        self.verify_button.setObjectName("verifyActivity")
        self.verify_button.clicked.connect(self.verify)
        self.model = AuditModel(self)
        self.table = QTableView()
        self.table.setObjectName("activityTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in enumerate((50, 140, 90, 70, 120, 260, 70)):
            self.table.setColumnWidth(column, width)
        self.status = QLabel()
        self.status.setObjectName("activityStatus")
        self.status.setWordWrap(True)
        filters = QHBoxLayout()
        for label, widget in ((self.tr("Action:"), self.action), (self.tr("Text:"), self.text),
                              (self.tr("Since:"), self.since)):  # fmt: skip
            filters.addWidget(QLabel(label))
            filters.addWidget(widget, 1 if widget is self.text else 0)
        filters.addWidget(refresh)
        filters.addWidget(self.export_button)
        filters.addWidget(self.verify_button)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)
        self.action.currentTextChanged.connect(lambda _t: self.reload())
        self.text.returnPressed.connect(self.reload)
        self.since.returnPressed.connect(self.reload)
        self.reload()

    def _query(self) -> list[AuditEntry]:
        self._audit.flush()  # what this window's own actions queued is part of what it shows
        with self._open_log() as audit_log:
            return audit_log.entries(
                since=self.since.text().strip() or None, action=self.action.currentText().strip() or None,
                text=self.text.text().strip(), limit=MAX_ROWS,
            )  # fmt: skip

    def reload(self) -> None:
        try:
            entries = self._query()
        except SharedClientError as exc:
            self.status.setText(exc.user_message)
            self.status.setStyleSheet("color: #b71c1c")
            return
        self.model.set_entries(entries)
        more = self.tr(" (the newest %1)").replace("%1", str(MAX_ROWS)) if len(entries) == MAX_ROWS else ""
        self.status.setText(self.tr("%1 entries").replace("%1", str(len(entries))) + more)
        self.status.setStyleSheet("")

    def choose_export_path(self) -> str:
        """Replaceable in tests; the real one asks where to save."""
        path, _ = QFileDialog.getSaveFileName(self, self.tr("Export activity"), "activity.csv", "CSV (*.csv)")
        return path

    def export(self) -> Path | None:
        """Write what the filters select (not only the visible page) as CSV; the export is audited."""
        target = self.choose_export_path()
        if not target:
            return None
        path = Path(target)
        try:
            entries = self._query()
            with path.open("w", encoding="utf-8", newline="") as out:
                count = write_csv(entries, out)
        except SharedClientError as exc:
            self.status.setText(exc.user_message)
            return None
        except OSError as exc:
            self.status.setText(self.tr("The export could not be written (%1).").replace("%1", exc.strerror or str(exc)))
            return None
        self._audit.record("audit.export", details={
            "format": "csv", "path": str(path), "entries": count, "action": self.action.currentText().strip(),
            "text": self.text.text().strip(), "since": self.since.text().strip(),
        })  # fmt: skip
        self.status.setText(self.tr("Exported %1 entries to %2.").replace("%1", str(count)).replace("%2", str(path)))
        return path

    def verify(self) -> None:
        self._audit.flush()
        try:
            with self._open_log() as audit_log:
                result = audit_log.verify()
        except SharedClientError as exc:
            self.status.setText(exc.user_message)
            self.status.setStyleSheet("color: #b71c1c")
            return
        if result.ok:
            self.status.setText(self.tr("The audit trail is intact: %1 entries, last hash %2.")
                                .replace("%1", str(result.entries)).replace("%2", result.head_hash))  # fmt: skip
            self.status.setStyleSheet("color: #1b5e20")
        else:
            self.status.setText(result.problem)
            self.status.setStyleSheet("color: #b71c1c")


def window_recorder(window: Any, audit_log: AuditLog) -> AuditRecorder:
    """The window's recorder: written on its own thread; a write problem shows in the window's error bar."""
    bridge = MainThreadBridge(window)

    def show(sentence: str) -> None:  # writer thread
        bridge.post(lambda: window.report_error(StorageError(sentence)) if hasattr(window, "report_error")
                    else window.statusBar().showMessage(sentence))  # fmt: skip

    return AuditRecorder(audit_log, background=True, on_error=show)


def open_activity(window: Any) -> ActivityView | None:
    factory = getattr(window, "audit_factory", None)
    if factory is None:
        window.statusBar().showMessage(window.tr("This window has no profile, so there is no audit trail."), 10000)
        return None
    view = ActivityView(factory, getattr(window, "audit", NO_AUDIT))
    window.activity_view = view
    view.show()
    return view


def install_activity_menu(window: Any) -> QAction:
    """View → Activity… (one call from the main window)."""
    action = QAction(window.tr("&Activity…"), window)
    action.setObjectName("activityAction")
    action.setToolTip(window.tr("Who opened, read, changed, sent or exported what: the profile's audit trail."))
    action.triggered.connect(lambda: open_activity(window))
    window.menu("view").addAction(action)
    return action
