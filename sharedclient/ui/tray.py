"""Tray icon with the unread count, desktop notifications for new mail, per-mailbox on/off.

The decisions (what is new, which mailboxes count) live in ``core.newmail``; this module only shows
them. Without a system tray (offscreen, some window managers) there is no icon: the unread count goes
into the window title and new mail into the status bar, and nothing else changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QRectF, Qt
from PySide6.QtGui import QAction, QFont, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon

from sharedclient.core.errors import StorageError
from sharedclient.core.model import Folder
from sharedclient.core.newmail import FILE_NAME, NewMail, NewMailTracker, NotificationPrefs
from sharedclient.ui.icons import icon

if TYPE_CHECKING:
    from sharedclient.ui.mainwindow import MainWindow


def badge_icon(base: QIcon, count: int, palette: QPalette, size: int = 64) -> QIcon:
    """The application icon with the unread count in a badge (the palette's highlight colours)."""
    pixmap = base.pixmap(size, size)
    if count <= 0:
        return QIcon(pixmap)
    text = str(count) if count < 1000 else "999+"
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    font = QFont()
    font.setBold(True)
    font.setPixelSize(int(size * 0.36))
    painter.setFont(font)
    width = max(size * 0.5, painter.fontMetrics().horizontalAdvance(text) + size * 0.16)
    rect = QRectF(size - width, size * 0.5, width, size * 0.5)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(palette.color(QPalette.ColorRole.Highlight))
    painter.drawRoundedRect(rect, size * 0.25, size * 0.25)
    painter.setPen(palette.color(QPalette.ColorRole.HighlightedText))
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
    painter.end()
    return QIcon(pixmap)


class MailNotifier(QObject):
    """Follows the folder counts of every account and tells the user about new mail."""

    def __init__(self, window: MainWindow, state_dir: Path | None, tray_available: bool | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.prefs = NotificationPrefs(state_dir / FILE_NAME if state_dir is not None else None)
        self.tracker = NewMailTracker(self.prefs)
        self.shown: list[tuple[str, str]] = []  # (title, body) of every notification, newest last
        self.base_title = window.windowTitle()
        if tray_available is None:
            tray_available = QSystemTrayIcon.isSystemTrayAvailable()
        self.tray: QSystemTrayIcon | None = QSystemTrayIcon(icon("sharedclient"), self) if tray_available else None
        if self.tray is not None:
            self.tray.setContextMenu(self._tray_menu())
            self.tray.activated.connect(self._on_activated)
            self.tray.messageClicked.connect(self.show_window)
            self.tray.show()
        window.controller.folders_changed.connect(self.on_folders)
        self.show_count()

    def _tray_menu(self) -> QMenu:
        menu = QMenu(self.window)
        menu.setObjectName("trayMenu")
        show = QAction(self.tr("Open SharedClient"), menu)
        show.triggered.connect(self.show_window)
        menu.addAction(show)
        menu.addAction(self.window.refresh_action)
        menu.addSeparator()
        quit_action = QAction(self.tr("Quit"), menu)
        quit_action.triggered.connect(self.window.close)
        menu.addAction(quit_action)
        return menu

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.show_window()

    def show_window(self) -> None:
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()

    # -- counts and notifications ------------------------------------------------------------------

    def on_folders(self, account: str, folders: list[Folder]) -> None:
        acct = self.window.controller.accounts.get(account)
        news = self.tracker.update(account, folders, acct.email if acct else "")
        for folder in self.tracker.watched():
            if folder.account == account and folder.path.upper() != "INBOX":
                self.window.controller.watch(account, folder.path)  # IDLE, so news comes at once
        self.show_count()
        if news:
            self.notify(news)

    def notify(self, news: list[NewMail]) -> None:
        total = sum(n.count for n in news)
        title = self.tr("1 new message") if total == 1 else self.tr("%1 new messages").replace("%1", str(total))
        body = "\n".join(self.tr("%1 in %2").replace("%1", str(n.count)).replace("%2", n.where) for n in news)
        self.shown.append((title, body))
        if self.tray is not None:
            self.tray.showMessage(title, body, icon("sharedclient"), 10000)
        else:
            self.window.statusBar().showMessage(f"{title}: {body.replace(chr(10), '; ')}", 15000)

    def show_count(self) -> None:
        unread = self.tracker.unread()
        tip = self.tr("SharedClient: %1 unread").replace("%1", str(unread)) if unread else \
            self.tr("SharedClient: no unread mail")
        if self.tray is not None:
            self.tray.setIcon(badge_icon(icon("sharedclient"), unread, QApplication.palette()))
            self.tray.setToolTip(tip)
        title = f"({unread}) {self.base_title}" if unread else self.base_title
        self.window.setWindowTitle(title)

    # -- per-mailbox choice ------------------------------------------------------------------------

    def set_enabled(self, folder: Folder, on: bool) -> None:
        try:
            self.prefs.set(folder, on)
        except StorageError as exc:
            self.window.report(exc.user_message, folder.account, exc)
        if on:
            self.window.controller.watch(folder.account, folder.path)
        elif folder.path.upper() != "INBOX" and folder != self.window.current:
            self.window.controller.unwatch(folder.account, folder.path)
        self.show_count()

    def keeps_watching(self, folder: Folder) -> bool:
        """The window stops IDLE on a folder it leaves, except where notifications are on."""
        return self.prefs.enabled(folder)


def install_notifications_menu(window: MainWindow, state_dir: Path | None) -> MailNotifier:
    """Mailbox → Notify About New Mail (checkable, for the open mailbox) and the tray icon."""
    notifier = MailNotifier(window, state_dir)
    action = QAction(window.tr("&Notify About New Mail Here"), window)
    action.setObjectName("notifyAction")
    action.setCheckable(True)
    action.setToolTip(window.tr("Show a desktop notification when new mail arrives in the open mailbox."))

    def refresh() -> None:
        folder = window.current
        action.setEnabled(folder is not None and folder.selectable)
        action.setChecked(folder is not None and notifier.prefs.enabled(folder))

    action.triggered.connect(lambda on: window.current is not None and notifier.set_enabled(window.current, on))
    menu = window.menus.mailbox_menu()
    menu.addSeparator()
    menu.addAction(action)
    menu.aboutToShow.connect(refresh)
    window.notify_action = action
    refresh()
    return notifier
