"""The sent-as history: who sent what, as whom, to whom, when, and what became of it.

A table over ``SendHistory`` read page by page (fast with a million rows), with filters by identity,
mode, status and date range, full-text search, sorting by column, CSV export and the stored message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QDate, QModelIndex, QPersistentModelIndex, Qt, QTime
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from sharedclient.core.store.history import STATUSES, HistoryEntry, HistoryQuery, SendHistory
from sharedclient.core.tracking.matcher import DeliveryState, DeliveryTracker, summary
from sharedclient.ui.palette import tone

log = logging.getLogger(__name__)

PAGE = 200
COLUMNS = (
    ("time", "Time"),
    ("identity", "Identity"),
    ("mode", "Mode"),
    ("user", "Sent by"),
    ("recipients", "Recipients"),
    ("subject", "Subject"),
    ("status", "Status"),
    ("copy_mailbox", "Copy in"),
    ("delivery", "Delivery"),  # from delivery reports and read receipts (core.tracking)
)
SORTABLE = {"time", "identity", "mode", "subject", "status"}
_STATUS_TONES = {"sent": "ok", "failed": "error", "retrying": "warning", "uncertain": "neutral"}  # ui.palette


class HistoryModel(QAbstractTableModel):
    def __init__(self, history: SendHistory, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history = history
        self.query = HistoryQuery(limit=PAGE)
        self._count = 0
        self._pages: dict[int, list[HistoryEntry]] = {}
        self._tracker = DeliveryTracker(history.db)
        self._delivery: dict[int, list[DeliveryState]] = {}
        self.reload()

    def set_query(self, query: HistoryQuery) -> None:
        self.query = replace(query, limit=PAGE, offset=0)
        self.reload()

    def reload(self) -> None:
        self.beginResetModel()
        self._count = self.history.count(self.query)
        self._pages.clear()
        self._delivery.clear()
        self.endResetModel()

    def entry(self, row: int) -> HistoryEntry | None:
        if not 0 <= row < self._count:
            return None
        page_no = row // PAGE
        page = self._pages.get(page_no)
        if page is None:
            if len(self._pages) > 32:
                self._pages.clear()
            page = self.history.query(replace(self.query, limit=PAGE, offset=page_no * PAGE))
            self._pages[page_no] = page
            self._delivery.update(self._tracker.states_for([e.id for e in page]))
        index = row % PAGE
        return page[index] if index < len(page) else None

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else self._count

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section][1]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        entry = self.entry(index.row()) if index.isValid() else None
        if entry is None:
            return None
        key = COLUMNS[index.column()][0]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            if key == "time":
                return datetime.fromtimestamp(entry.time).strftime("%Y-%m-%d %H:%M")
            if key == "recipients":
                return ", ".join(entry.recipients)
            if key == "copy_mailbox" and role == Qt.ItemDataRole.DisplayRole:
                return entry.copy_mailbox.removeprefix("shared/")
            if key == "status" and role == Qt.ItemDataRole.ToolTipRole:
                return entry.smtp_reply or entry.status
            if key == "delivery":
                states = self._delivery.get(entry.id, [])
                if role == Qt.ItemDataRole.ToolTipRole and states:
                    return "\n".join(f"{s.recipient}: {s.state} {s.diagnostic or s.status}".rstrip() for s in states)
                return summary(states, len(entry.recipients))
            return str(getattr(entry, key))
        if role == Qt.ItemDataRole.ForegroundRole and key == "delivery" and self._delivery.get(entry.id):
            failed = any(s.state == "failed" for s in self._delivery[entry.id])
            return QBrush(QColor(tone("error" if failed else "ok")))
        if role == Qt.ItemDataRole.ForegroundRole and key == "status" and entry.status in _STATUS_TONES:
            return QBrush(QColor(tone(_STATUS_TONES[entry.status])))
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        key = COLUMNS[column][0]
        if key in SORTABLE:
            self.set_query(replace(self.query, sort=key, descending=order == Qt.SortOrder.DescendingOrder))


class HistoryView(QWidget):
    """The "Sent-as history" window."""

    def __init__(
        self,
        history: SendHistory,
        identities: Sequence[str],
        raw_message: Callable[[HistoryEntry], bytes | None] = lambda e: None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("historyView")
        self.setWindowTitle(self.tr("Sent-as history"))
        self.resize(1200, 600)
        self._raw_message = raw_message
        self.model = HistoryModel(history, self)

        self.identity = QComboBox()
        self.identity.setObjectName("identityFilter")
        self.identity.addItem(self.tr("All identities"), None)
        for address in identities:
            self.identity.addItem(address, address)
        self.mode = QComboBox()
        self.mode.setObjectName("modeFilter")
        self.mode.addItem(self.tr("Any mode"), None)
        for mode in ("own", "send-as", "on-behalf"):
            self.mode.addItem(mode, mode)
        self.status = QComboBox()
        self.status.setObjectName("statusFilter")
        self.status.addItem(self.tr("Any status"), None)
        for status in STATUSES:
            self.status.addItem(status, status)
        self.since = QDateEdit()
        self.since.setObjectName("sinceFilter")
        self.since.setCalendarPopup(True)
        self.since.setSpecialValueText(self.tr("any date"))
        self.since.setMinimumDate(QDate(2000, 1, 1))
        self.since.setDate(self.since.minimumDate())
        self.search = QLineEdit()
        self.search.setObjectName("historySearch")
        self.search.setPlaceholderText(self.tr("Search recipients, subject, Message-ID…"))
        self.search.setClearButtonEnabled(True)
        for widget in (self.identity, self.mode, self.status):
            widget.currentIndexChanged.connect(self.apply_filters)
        self.since.dateChanged.connect(self.apply_filters)
        self.search.textChanged.connect(self.apply_filters)

        self.table = QTableView()
        self.table.setObjectName("historyTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.setWordWrap(False)
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        for column, width in enumerate((125, 160, 75, 140, 170, 0, 70, 150, 230)):
            if width:
                header.resizeSection(column, width)
        header.setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self.table.doubleClicked.connect(lambda index: self.open_message(index.row()))

        self.count_label = QLabel()
        self.count_label.setObjectName("historyCount")
        open_button = QPushButton(self.tr("Open message"))
        open_button.clicked.connect(lambda: self.open_message(self.table.currentIndex().row()))
        export_button = QPushButton(self.tr("Export CSV…"))
        export_button.setObjectName("exportCsv")
        export_button.clicked.connect(lambda: self.export_csv())

        filters = QHBoxLayout()
        for widget in (self.identity, self.mode, self.status, QLabel(self.tr("since")), self.since):
            filters.addWidget(widget)
        filters.addWidget(self.search, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.count_label, 1)
        bottom.addWidget(open_button)
        bottom.addWidget(export_button)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)
        layout.addLayout(bottom)
        self.model.modelReset.connect(self._show_count)
        self._show_count()

    def current_query(self) -> HistoryQuery:
        since = None
        if self.since.date() != self.since.minimumDate():
            since = datetime.combine(self.since.date().toPython(), QTime(0, 0).toPython()).timestamp()
        return replace(
            self.model.query,
            identity=self.identity.currentData(),
            mode=self.mode.currentData(),
            status=self.status.currentData(),
            since=since,
            text=self.search.text(),
        )

    def apply_filters(self) -> None:
        self.model.set_query(self.current_query())

    def _show_count(self) -> None:
        count = self.model.rowCount()
        self.count_label.setText(self.tr("1 message") if count == 1 else self.tr("%1 messages").replace("%1", f"{count:,}"))

    def open_message(self, row: int) -> None:
        entry = self.model.entry(row)
        if entry is None:
            return
        raw = self._raw_message(entry)
        viewer = QPlainTextEdit()
        viewer.setObjectName("historyMessage")
        viewer.setReadOnly(True)
        viewer.setWindowTitle(entry.subject or self.tr("(no subject)"))
        text = raw.decode("utf-8", "replace") if raw else self.tr(
            "The stored copy of this message is no longer in the outbox. Details:\n\n"
        ) + "\n".join(f"{k}: {v}" for k, v in entry.to_json().items())
        viewer.setPlainText(text)
        viewer.resize(800, 600)
        viewer.show()
        self._viewer = viewer

    def export_csv(self, path: str | None = None) -> int:
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, self.tr("Export history"), "sent-history.csv", "CSV (*.csv)")
            if not path:
                return 0
        with open(path, "w", newline="", encoding="utf-8") as out:
            return self.model.history.export_csv(replace(self.current_query(), limit=0, offset=0), out)
