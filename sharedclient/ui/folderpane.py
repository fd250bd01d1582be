"""The folder pane: each account's personal folders, then shared mailboxes by owner, then public folders."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QFont, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QStyle, QTreeView, QWidget

from sharedclient.core.imap.rights import describe_rights, is_read_only
from sharedclient.core.model import Folder, Section

FOLDER_ROLE = Qt.ItemDataRole.UserRole + 1
_SPECIAL_ORDER = ["\\Drafts", "\\Sent", "\\Archive", "\\Junk", "\\Trash"]


def _sort_key(folder: Folder) -> tuple[int, str]:
    if folder.path.upper() == "INBOX" or folder.name.upper() == "INBOX":
        return (0, "")
    if folder.special_use in _SPECIAL_ORDER:
        return (1 + _SPECIAL_ORDER.index(folder.special_use), "")
    return (10, folder.path.casefold())


def _header_item(text: str) -> QStandardItem:
    item = QStandardItem(text)
    font = QFont()
    font.setBold(True)
    item.setFont(font)
    item.setFlags(Qt.ItemFlag.ItemIsEnabled)
    return item


class FolderPane(QTreeView):
    """Tree of mailboxes. Emits ``folder_selected(Folder)``."""

    folder_selected = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("folderPane")
        self.setAccessibleName(self.tr("Folders"))
        self._model = QStandardItemModel(self)
        self._model.setHorizontalHeaderLabels([self.tr("Folder"), self.tr("Unread")])
        self.setModel(self._model)
        self.setHeaderHidden(True)
        self.setUniformRowHeights(True)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.header().setStretchLastSection(False)
        self.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.setIconSize(QSize(16, 16))
        self._folders: dict[str, list[Folder]] = {}
        self._emails: dict[str, str] = {}
        self._restoring = False
        self.selectionModel().currentChanged.connect(self._on_current)

    def set_account_folders(self, account: str, email: str, folders: list[Folder]) -> None:
        self._folders[account] = folders
        self._emails[account] = email
        self._rebuild()

    def folder_items(self) -> dict[tuple[str, str], QStandardItem]:
        """(account, path) -> item, for tests and selection restore."""
        found: dict[tuple[str, str], QStandardItem] = {}

        def walk(parent: QStandardItem) -> None:
            for row in range(parent.rowCount()):
                child = parent.child(row, 0)
                folder = child.data(FOLDER_ROLE)
                if folder is not None:
                    found[(folder.account, folder.path)] = child
                walk(child)

        walk(self._model.invisibleRootItem())
        return found

    def select_folder(self, account: str, path: str) -> bool:
        item = self.folder_items().get((account, path))
        if item is None:
            return False
        self.setCurrentIndex(item.index())
        return True

    def _rebuild(self) -> None:
        current = self.currentIndex().data(FOLDER_ROLE)
        self._model.removeRows(0, self._model.rowCount())
        root = self._model.invisibleRootItem()
        shared: dict[str, list[Folder]] = {}
        public: list[Folder] = []
        for account, folders in self._folders.items():
            personal = [f for f in folders if f.section is Section.PERSONAL]
            if personal:
                header = _header_item(self.tr("Personal — %1").replace("%1", self._emails[account]))
                root.appendRow([header, QStandardItem()])
                self._add_tree(header, personal, prefix="")
            for f in folders:
                if f.section is Section.SHARED and f.owner:
                    shared.setdefault(f.owner, []).append(f)
                elif f.section is Section.PUBLIC:
                    public.append(f)
        if shared:
            header = _header_item(self.tr("Shared mailboxes"))
            root.appendRow([header, QStandardItem()])
            for owner in sorted(shared, key=str.casefold):
                owner_item = _header_item(owner)
                owner_item.setFont(QFont())
                owner_item.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_DirLinkIcon))
                owner_item.setToolTip(self.tr("Shared mailbox %1").replace("%1", owner))
                header.appendRow([owner_item, QStandardItem()])
                folders = [f for f in shared[owner] if f.selectable]
                self._add_tree(owner_item, folders, prefix=self._owner_prefix(shared[owner], owner))
        if public:
            header = _header_item(self.tr("Public folders"))
            root.appendRow([header, QStandardItem()])
            self._add_tree(header, [f for f in public if f.selectable], prefix=self._common_prefix(public))
        self.expandAll()
        if current is not None:
            # Restoring the selection is not the user choosing a folder: re-opening it would clear the
            # message being read (and its notes) at every resync or IDLE update.
            self._restoring = True
            try:
                self.select_folder(current.account, current.path)
            finally:
                self._restoring = False

    @staticmethod
    def _owner_prefix(folders: list[Folder], owner: str) -> str:
        for f in folders:
            idx = f.path.find(owner)
            if idx >= 0:
                return f.path[: idx + len(owner)] + (f.delimiter or "")
        return ""

    @staticmethod
    def _common_prefix(folders: list[Folder]) -> str:
        for f in folders:
            if not f.selectable and f.delimiter:
                return f.path + f.delimiter
        first = folders[0]
        return first.path.rsplit(first.delimiter, 1)[0] + first.delimiter if first.delimiter else ""

    def _add_tree(self, parent: QStandardItem, folders: list[Folder], prefix: str) -> None:
        """Nest folders by their delimiter below ``parent``, relative to ``prefix``."""
        nodes: dict[str, QStandardItem] = {}
        for folder in sorted(folders, key=_sort_key):
            rel = folder.path[len(prefix) :] if prefix and folder.path.startswith(prefix) else folder.path
            parts = rel.split(folder.delimiter) if folder.delimiter else [rel]
            holder = parent
            for depth in range(len(parts) - 1):
                key = folder.delimiter.join(parts[: depth + 1]) if folder.delimiter else parts[0]
                if key not in nodes:
                    nodes[key] = QStandardItem(parts[depth])
                    nodes[key].setFlags(Qt.ItemFlag.ItemIsEnabled)
                    holder.appendRow([nodes[key], QStandardItem()])
                holder = nodes[key]
            item, count = self._folder_items(folder, parts[-1])
            nodes[rel] = item
            holder.appendRow([item, count])

    def _folder_items(self, folder: Folder, label: str) -> tuple[QStandardItem, QStandardItem]:
        name = self.tr("Inbox") if label.upper() == "INBOX" else label
        item = QStandardItem(name)
        item.setData(folder, FOLDER_ROLE)
        item.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_DirIcon))
        words = describe_rights(folder.rights)
        read_only = folder.section is not Section.PERSONAL and is_read_only(folder.rights)
        if read_only:
            item.setText(self.tr("%1  [read-only]").replace("%1", name))
            font = QFont()
            font.setItalic(True)
            item.setFont(font)
        item.setToolTip(folder.path + "\n" + self.tr("You may: %1").replace("%1", words))
        count = QStandardItem(str(folder.unread) if folder.unread else "")
        count.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if folder.unread:
            font = QFont()
            font.setBold(True)
            item.setFont(font)
            count.setFont(font)
        count.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
        return item, count

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        folder = current.siblingAtColumn(0).data(FOLDER_ROLE)
        if folder is not None and not self._restoring:
            self.folder_selected.emit(folder)
