"""The main window's commands: one QAction each, Thunderbird's shortcuts, a real menu bar and the toolbar.

Menus are File, Edit, View, Message, Mailbox, Help. Features living in other modules add their entries
through a one-line ``install_*_menu(window)`` hook in ``MainWindow._install_feature_menus``; they find a
menu with ``window.menu("file")`` (or create their own, e.g. Mailbox) and run before Help is appended, so
Help always stays last.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu, QMessageBox, QToolBar

from sharedclient import __version__

if TYPE_CHECKING:
    from sharedclient.ui.mainwindow import MainWindow

LAYOUT_MODES = ("classic", "vertical", "wide")


class MainMenus(QObject):
    """Builds the actions (stored on the window under their historic names) and the menus."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.menus: dict[str, QMenu] = {}
        w = window
        w.new_action = self._action(self.tr("&New Message"), "newAction", w._new_message, "Ctrl+N")  # noqa: SLF001
        w.refresh_action = self._action(self.tr("&Get Mail"), "getMailAction", w.refresh, "F5")
        w.history_action = self._action(self.tr("Sent-as &History"), "historyAction", w._show_history, "Ctrl+Shift+H")  # noqa: SLF001
        w.identities_action = self._action(self.tr("&Identities…"), "identitiesAction", w._show_identities)  # noqa: SLF001
        self.quit_action = self._action(self.tr("&Quit"), "quitAction", w.close, "Ctrl+Q")
        w.reply_action = self._action(self.tr("&Reply"), "replyAction", lambda: w._reply(), "Ctrl+R")  # noqa: SLF001
        w.reply_all_action = self._action(self.tr("Reply &All"), "replyAllAction", lambda: w._reply(reply_all=True),  # noqa: SLF001
                                          "Ctrl+Shift+R")
        w.forward_action = self._action(self.tr("&Forward"), "forwardAction", lambda: w._reply(forward=True), "Ctrl+L")  # noqa: SLF001
        w.read_action = self._action(self.tr("&Mark Read/Unread"), "readAction",
                                     lambda: w._toggle_flag("\\Seen", "toggle_read"), "M")  # noqa: SLF001
        w.flag_action = self._action(self.tr("&Star/Flag"), "flagAction",
                                     lambda: w._toggle_flag("\\Flagged", "toggle_flag"), "S")  # noqa: SLF001
        w.delete_action = self._action(self.tr("&Delete"), "deleteAction", w._delete, QKeySequence.StandardKey.Delete)  # noqa: SLF001
        w.move_action = self._action(self.tr("Mo&ve to…"), "moveAction", lambda: w._transfer(copy=False), "Ctrl+Shift+M")  # noqa: SLF001
        w.copy_action = self._action(self.tr("&Copy to…"), "copyAction", lambda: w._transfer(copy=True))  # noqa: SLF001
        self.source_action = self._action(self.tr("View &Source"), "sourceAction", w._show_source, "Ctrl+U")  # noqa: SLF001
        self.find_action = self._action(self.tr("&Search Messages"), "findAction", w.focus_search, "Ctrl+K")
        self.find_action.setShortcuts([QKeySequence("Ctrl+K"), QKeySequence(QKeySequence.StandardKey.Find)])
        self.reading_pane_action = self._action(
            self.tr("&Reading Pane"), "readingPaneAction",
            lambda: w.panes.show_reading_pane(self.reading_pane_action.isChecked()), "F8")
        self.reading_pane_action.setCheckable(True)
        self.reading_pane_action.setChecked(True)
        self.layout_actions = self._layout_actions()
        self.shortcuts_action = self._action(self.tr("&Keyboard Shortcuts"), "shortcutsAction", self.show_shortcuts)
        self.about_action = self._action(self.tr("&About SharedClient"), "aboutAction", self.show_about)
        self._build_toolbar()
        self._build_menus()

    # -- building --------------------------------------------------------------------------------

    def _action(self, text: str, name: str, slot: Callable[[], object],
                shortcut: str | QKeySequence.StandardKey | None = None) -> QAction:
        action = QAction(text, self.window)  # text comes translated
        action.setObjectName(name)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _checked=False: slot())
        self.window.addAction(action)  # shortcuts work even with the menu bar hidden
        return action

    def _layout_actions(self) -> dict[str, QAction]:
        group = QActionGroup(self)
        labels = {"classic": self.tr("&Classic View (list above the message)"),
                  "vertical": self.tr("&Vertical View (three columns)"),
                  "wide": self.tr("&Wide List (list across the whole window)")}
        actions = {}
        for mode in LAYOUT_MODES:
            action = QAction(labels[mode], self.window)
            action.setObjectName(f"layout-{mode}")
            action.setCheckable(True)
            action.setChecked(mode == "classic")
            action.triggered.connect(lambda _checked=False, m=mode: self.window.set_layout_mode(m))
            group.addAction(action)
            actions[mode] = action
        return actions

    def _build_toolbar(self) -> None:
        w = self.window
        toolbar = QToolBar(self.tr("Main"), w)
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        w.addToolBar(toolbar)
        for action in (w.new_action, w.reply_action, w.reply_all_action, w.forward_action):
            toolbar.addAction(action)
        toolbar.addSeparator()
        for action in (w.refresh_action, w.read_action, w.flag_action, w.delete_action):
            toolbar.addAction(action)
        toolbar.widgetForAction(w.read_action).setObjectName("readButton")  # type: ignore[union-attr]
        self.toolbar = toolbar

    def _build_menus(self) -> None:
        w = self.window
        file = self._menu("file", self.tr("&File"))
        file.addActions([w.new_action, w.refresh_action])
        file.addSeparator()
        file.addActions([w.history_action, w.identities_action])
        self.file_end = file.addSeparator()  # hooks add above this line
        file.addAction(self.quit_action)
        edit = self._menu("edit", self.tr("&Edit"))
        edit.addActions([self.find_action, w.delete_action])
        view = self._menu("view", self.tr("&View"))
        layout = view.addMenu(self.tr("&Layout"))
        layout.setObjectName("layoutMenu")
        layout.addActions(list(self.layout_actions.values()))
        view.addAction(self.reading_pane_action)
        view.addAction(self.toolbar.toggleViewAction())
        view.addSeparator()
        view.addAction(self.source_action)
        message = self._menu("message", self.tr("&Message"))
        message.addActions([w.reply_action, w.reply_all_action, w.forward_action])
        message.addSeparator()
        message.addActions([w.read_action, w.flag_action])
        message.addSeparator()
        message.addActions([w.move_action, w.copy_action, w.delete_action])
        message.addSeparator()
        message.addAction(self.source_action)

    def _menu(self, key: str, title: str) -> QMenu:
        menu = self.window.menuBar().addMenu(title)
        menu.setObjectName(f"{key}Menu")
        self.menus[key] = menu
        return menu

    def add_help_menu(self) -> None:
        """Help goes last, after the feature hooks added their menus."""
        help_menu = self._menu("help", self.tr("&Help"))
        help_menu.addActions([self.shortcuts_action, self.about_action])

    def mailbox_menu(self) -> QMenu:
        """The Mailbox menu, made by the access hook; created here when that hook is absent."""
        found = self.window.menuBar().findChild(QMenu, "mailboxMenu")
        if found is None:
            found = self._menu("mailbox", self.tr("M&ailbox"))
        self.menus["mailbox"] = found
        return found

    # -- help ------------------------------------------------------------------------------------

    def shortcut_table(self) -> list[tuple[str, str]]:
        """(command, keys) for every action that has a shortcut, in menu order."""
        rows: list[tuple[str, str]] = []
        seen: set[int] = set()
        for menu in self.menus.values():
            for action in menu.actions():
                if id(action) in seen or not action.shortcuts():
                    continue
                seen.add(id(action))
                keys = ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts())
                rows.append((action.text().replace("&", ""), keys))
        return rows

    def show_shortcuts(self) -> QMessageBox:
        rows = "".join(f"<tr><td>{cmd}</td><td>&nbsp;&nbsp;<b>{keys}</b></td></tr>" for cmd, keys in self.shortcut_table())
        box = QMessageBox(QMessageBox.Icon.NoIcon, self.tr("Keyboard Shortcuts"), f"<table>{rows}</table>",
                          QMessageBox.StandardButton.Close, self.window)
        box.setObjectName("shortcutsBox")
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setModal(False)
        box.show()
        return box

    def show_about(self) -> None:
        QMessageBox.about(self.window, self.tr("About SharedClient"),
                          self.tr("SharedClient %1 — a mail client for teams answering shared mailboxes.")
                          .replace("%1", __version__))
