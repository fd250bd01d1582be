"""The message list: a table model over the header cache, read lazily page by page.

Sorting and filtering happen in SQLite (``core.store.listing``); the model only holds the ordered row
ids and the pages the view has actually asked for, so 100k-message folders open instantly.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, QAbstractTableModel, QCoreApplication, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from sharedclient.core.imap.claims import keyword_label
from sharedclient.core.store.cache import HeaderCache
from sharedclient.ui.icons import status_strip
from sharedclient.core.store.listing import MessageRow, SortKey, listing_ids, rows_by_id

PAGE = 256
COLUMNS = ("", QT_TRANSLATE_NOOP("MessageListModel", "From"), QT_TRANSLATE_NOOP("MessageListModel", "Subject"),
           QT_TRANSLATE_NOOP("MessageListModel", "Date"), QT_TRANSLATE_NOOP("MessageListModel", "Size"))
SORT_FOR_COLUMN = {1: SortKey.SENDER, 2: SortKey.SUBJECT, 3: SortKey.DATE, 4: SortKey.SIZE}
ROW_ROLE = Qt.ItemDataRole.UserRole + 1
_BOLD = QFont()
_BOLD.setBold(True)
_R = Qt.ItemDataRole
_DISPLAY, _FONT, _DECORATION, _ALIGNMENT, _TOOLTIP, _ACCESSIBLE, _ROW = (
    int(r) for r in (_R.DisplayRole, _R.FontRole, _R.DecorationRole, _R.TextAlignmentRole, _R.ToolTipRole,
                     _R.AccessibleTextRole, ROW_ROLE)
)  # fmt: skip
_SERVED_ROLES = frozenset((_DISPLAY, _FONT, _DECORATION, _ALIGNMENT, _TOOLTIP, _ACCESSIBLE, _ROW))
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


def human_size(size: int) -> str:
    for unit in ("B", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size} B"


def short_date(ts: float | None, now: float | None = None) -> str:
    if ts is None:
        return ""
    when = datetime.fromtimestamp(ts)
    today = datetime.fromtimestamp(now if now is not None else time.time())
    if when.date() == today.date():
        return when.strftime("%H:%M")
    if when.year == today.year:
        return when.strftime("%d %b %H:%M")
    return when.strftime("%Y-%m-%d")


def status_icons(row: MessageRow) -> tuple[str, ...]:
    """Names of the icons in the first column, in a fixed order."""
    names = []
    if not row.seen:
        names.append("unread")
    if "\\Flagged" in row.flags:
        names.append("flagged")
    if "\\Answered" in row.flags:
        names.append("answered")
    if "$Forwarded" in row.flags:
        names.append("forwarded")
    if row.has_attachment:
        names.append("attachment")
    return tuple(names)


def status_words(row: MessageRow) -> str:
    words = {"unread": QT_TRANSLATE_NOOP("MessageListModel", "unread"),
             "flagged": QT_TRANSLATE_NOOP("MessageListModel", "flagged"),
             "answered": QT_TRANSLATE_NOOP("MessageListModel", "answered"),
             "forwarded": QT_TRANSLATE_NOOP("MessageListModel", "forwarded"),
             "attachment": QT_TRANSLATE_NOOP("MessageListModel", "has attachments")}
    return ", ".join(QCoreApplication.translate("MessageListModel", words[n]) for n in status_icons(row))


class MessageListModel(QAbstractTableModel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._cache: HeaderCache | None = None
        self._mailbox_id: int | None = None
        self._ids: list[int] = []
        self._pages: dict[int, dict[int, MessageRow]] = {}
        self.sort_key = SortKey.DATE
        self.descending = True
        self.search_text = ""
        self.uid_filter: frozenset[int] | None = None  # result of a server-side text search

    # -- what is shown -------------------------------------------------------------------------------

    def show_mailbox(self, cache: HeaderCache | None, mailbox_id: int | None) -> None:
        self._cache, self._mailbox_id = cache, mailbox_id
        self.search_text, self.uid_filter = "", None
        self.reload()

    def reload(self) -> None:
        """Re-read the ordering (after a sync, sort or search change); rows are read again lazily."""
        self.beginResetModel()
        if self._cache is not None and self._mailbox_id is not None:
            self._ids = listing_ids(
                self._cache, self._mailbox_id, self.sort_key, self.descending, self.search_text, self.uid_filter
            )
        else:
            self._ids = []
        self._pages.clear()
        self.endResetModel()

    def set_search(self, text: str, uids: frozenset[int] | None = None) -> None:
        """FTS over sender/recipients/subject (``text``), or the UIDs a server text search returned."""
        if (text, uids) != (self.search_text, self.uid_filter):
            self.search_text, self.uid_filter = text, uids
            self.reload()

    def row_at(self, row: int) -> MessageRow | None:
        if not 0 <= row < len(self._ids) or self._cache is None:
            return None
        page_no = row // PAGE
        page = self._pages.get(page_no)
        if page is None:
            if len(self._pages) > 64:  # keep memory bounded while scrolling through huge folders
                self._pages.clear()
            page = rows_by_id(self._cache, self._ids[page_no * PAGE : (page_no + 1) * PAGE])
            self._pages[page_no] = page
        return page.get(self._ids[row])

    def refresh_row(self, uid: int) -> None:
        """Re-read one row (its flags changed) without resetting the view or the selection."""
        row = self.row_of_uid(uid)
        if row < 0:
            return
        self._pages.pop(row // PAGE, None)
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    def row_of_uid(self, uid: int) -> int:
        if self._cache is None or self._mailbox_id is None:
            return -1
        found = self._cache.query("SELECT id FROM message WHERE mailbox_id=? AND uid=?", (self._mailbox_id, uid))
        if not found:
            return -1
        try:
            return self._ids.index(found[0][0])
        except ValueError:
            return -1

    # -- Qt model API ----------------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self._ids)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.tr(COLUMNS[section]) if COLUMNS[section] else ""
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # Called for 7 roles of every visible cell on each paint (~450 calls per role for one screen):
        # roles we never answer return before any lookup, and roles are compared as plain ints.
        role = int(role)
        if role not in _SERVED_ROLES or not index.isValid():
            return None
        row = self.row_at(index.row())
        if row is None:
            return None
        col = index.column()
        if role == _DISPLAY:
            if col == 1:
                return row.from_display
            if col == 2:
                chips = "".join(f"[{keyword_label(k)}] " for k in row.keywords if k not in ("$Forwarded", "$MDNSent"))
                return chips + (row.subject or self.tr("(no subject)"))
            if col == 3:
                return short_date(row.date)
            if col == 4:
                return human_size(row.size)
        elif role == _FONT:
            return None if row.seen else _BOLD
        elif role == _DECORATION:
            if col == 0:
                names = status_icons(row)
                return status_strip(names) if names else None
        elif role == _ALIGNMENT:
            return _RIGHT if col == 4 else None
        elif role == _TOOLTIP:
            if col == 0:
                return status_words(row)
            if col in (1, 2):
                return f"{row.from_name} <{row.from_addr}>" if col == 1 else row.subject
        elif role == _ACCESSIBLE:
            return status_words(row) if col == 0 else None
        elif role == _ROW:
            return row
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        key = SORT_FOR_COLUMN.get(column)
        if key is None:
            return
        self.sort_key = key
        self.descending = order == Qt.SortOrder.DescendingOrder
        self.reload()


class MessageListView(QTableView):
    def __init__(self, model: MessageListModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageList")
        self.setAccessibleName(self.tr("Messages"))
        self.setModel(model)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setAlternatingRowColors(True)
        self.verticalHeader().hide()
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.horizontalHeader()
        header.setHighlightSections(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(0, 62)
        header.resizeSection(1, 200)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.resizeSection(3, 120)
        header.resizeSection(4, 70)
        self.setSortingEnabled(True)
        self.sortByColumn(3, Qt.SortOrder.DescendingOrder)
