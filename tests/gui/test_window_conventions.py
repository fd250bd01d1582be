"""Everyday conventions of the main window: shortcuts, menus, layouts remembered per profile, the error
bar, tray/notifications without a system tray."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QSplitter, QWidget
from pytestqt.qtbot import QtBot

from sharedclient.core.errors import AuthError
from sharedclient.core.model import Account, Endpoint, Folder, Section, Security
from sharedclient.ui.accounts import AccountsController
from sharedclient.ui.errorbar import problem_from
from sharedclient.ui.layoutstate import FILE_NAME
from sharedclient.ui.mainwindow import MainWindow
from sharedclient.ui.messagelist import ROW_ROLE
from sharedclient.ui.tray import badge_icon
from sharedclient.ui.icons import icon


def offline_window(qtbot: QtBot, state_dir: Path | None = None, accounts: list[Account] | None = None) -> MainWindow:
    controller = AccountsController(accounts or [], lambda a: lambda: None)  # type: ignore[arg-type,return-value]
    window = MainWindow(controller, "test", state_dir=state_dir)
    qtbot.addWidget(window)
    window.show()
    window.activateWindow()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=3000)
    return window


SHORTCUTS = [
    ("new_action", Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier),
    ("reply_action", Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier),
    ("reply_all_action", Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier),
    ("forward_action", Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier),
    ("delete_action", Qt.Key.Key_Delete, Qt.KeyboardModifier.NoModifier),
    ("read_action", Qt.Key.Key_M, Qt.KeyboardModifier.NoModifier),
    ("flag_action", Qt.Key.Key_S, Qt.KeyboardModifier.NoModifier),
    ("refresh_action", Qt.Key.Key_F5, Qt.KeyboardModifier.NoModifier),
]


@pytest.mark.parametrize(("name", "key", "modifiers"), SHORTCUTS, ids=[s[0] for s in SHORTCUTS])
def test_thunderbird_shortcut_triggers_its_action(qtbot: QtBot, name: str, key: Qt.Key,
                                                  modifiers: Qt.KeyboardModifier) -> None:
    window = offline_window(qtbot)
    action: QAction = getattr(window, name)
    action.setEnabled(True)  # no message is selected offline; the key binding is what is tested here
    window.list_view.setFocus()
    with qtbot.waitSignal(action.triggered, timeout=2000):
        qtbot.keyClick(window.list_view, key, modifiers)
    window.close()


def test_search_shortcuts_focus_the_search_box_and_typing_there_is_not_a_command(qtbot: QtBot) -> None:
    window = offline_window(qtbot)
    for modifiers, key in ((Qt.KeyboardModifier.ControlModifier, Qt.Key.Key_K),
                           (Qt.KeyboardModifier.ControlModifier, Qt.Key.Key_F)):
        window.list_view.setFocus()
        qtbot.waitUntil(lambda: not window.search.hasFocus())
        qtbot.keyClick(window.list_view, key, modifiers)
        qtbot.waitUntil(window.search.hasFocus, timeout=2000)
    window.read_action.setEnabled(True)
    window.flag_action.setEnabled(True)
    with qtbot.assertNotEmitted(window.read_action.triggered), qtbot.assertNotEmitted(window.flag_action.triggered):
        qtbot.keyClicks(window.search, "ms")  # "m" and "s" are text in the search box
    assert window.search.text() == "ms"
    window.close()


def test_menus_follow_the_convention_and_show_the_shortcuts(qtbot: QtBot) -> None:
    window = offline_window(qtbot)
    titles = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert titles == ["File", "Edit", "View", "Message", "Mailbox", "Help"]
    message_menu = window.menu("message")
    assert window.reply_action in message_menu.actions() and window.flag_action in message_menu.actions()
    table = dict(window.menus.shortcut_table())
    assert table["Reply All"] == "Ctrl+Shift+R" and table["Mark Read/Unread"] == "M"
    assert table["Search Messages"] == "Ctrl+K, Ctrl+F" and table["Get Mail"] == "F5"
    assert table["Quit"] == "Ctrl+Q"
    box = window.menus.show_shortcuts()
    assert "Ctrl+Shift+R" in box.text()
    box.close()
    window.close()


def splitter_sizes(window: MainWindow) -> list[list[int]]:
    return [s.sizes() for s in window.panes.findChildren(QSplitter) if s.parent() is not None and s.isVisible()]


def test_wide_list_switch_moves_the_panes_and_back(qtbot: QtBot) -> None:
    window = offline_window(qtbot)
    assert window.panes.outer.orientation() == Qt.Orientation.Horizontal
    assert window.panes.outer.widget(0) is window.folder_pane
    window.menus.layout_actions["wide"].trigger()
    outer = window.panes.outer
    assert window.panes.mode == "wide" and outer.orientation() == Qt.Orientation.Vertical
    assert outer.widget(0).isAncestorOf(window.list_view)  # the list spans the whole width
    qtbot.waitUntil(lambda: window.list_view.width() > window.width() * 0.9, timeout=2000)
    assert window.panes.inner.widget(0) is window.folder_pane and window.panes.inner.widget(1) is window.view
    window.grab().save(str(Path("/tmp") / "desk-wide-test.png"))
    window.menus.layout_actions["vertical"].trigger()
    assert [window.panes.outer.widget(i) for i in range(3)][0] is window.folder_pane
    assert window.panes.outer.widget(2) is window.view and window.panes.inner is None
    window.menus.layout_actions["classic"].trigger()
    assert window.panes.inner.widget(1) is window.view
    window.menus.reading_pane_action.trigger()  # F8: reading pane off
    assert not window.view.isVisible()
    window.close()


def test_layout_is_restored_per_profile_after_close_and_reopen(qtbot: QtBot, tmp_path: Path) -> None:
    window = offline_window(qtbot, tmp_path)
    window.resize(780, 560)  # the offscreen screen is 800x600; restoring clamps to the screen
    window.set_layout_mode("wide")
    qtbot.wait(50)
    window.panes.outer.setSizes([200, 300])
    window.panes.inner.setSizes([233, 500])
    header = window.list_view.horizontalHeader()
    header.resizeSection(1, 260)
    header.resizeSection(3, 150)
    window.list_view.sortByColumn(2, Qt.SortOrder.AscendingOrder)  # by subject, A→Z
    expected = (window.panes.outer.sizes(), window.panes.inner.sizes())
    window.close()
    saved = json.loads((tmp_path / FILE_NAME).read_text())
    assert saved["mode"] == "wide" and saved["sort_column"] == 2 and saved["sort_descending"] is False

    again = offline_window(qtbot, tmp_path)
    assert (again.width(), again.height()) == (780, 560)
    assert again.panes.mode == "wide" and again.menus.layout_actions["wide"].isChecked()
    assert (again.panes.outer.sizes(), again.panes.inner.sizes()) == expected
    header = again.list_view.horizontalHeader()
    assert (header.sectionSize(1), header.sectionSize(3)) == (260, 150)
    assert header.sortIndicatorSection() == 2 and header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder
    assert again.model.sort_key.name == "SUBJECT" and not again.model.descending
    again.close()

    other = offline_window(qtbot, tmp_path / "other-profile")  # another profile keeps its own layout
    assert other.panes.mode == "classic"
    other.close()


def test_a_damaged_layout_file_opens_the_default_layout(qtbot: QtBot, tmp_path: Path) -> None:
    (tmp_path / FILE_NAME).write_text('{"version": 1, "mode": "sideways", "columns": "wide"}')
    window = offline_window(qtbot, tmp_path)
    assert window.panes.mode == "classic"
    window.close()
    assert json.loads((tmp_path / FILE_NAME).read_text())["mode"] == "classic"  # replaced by a good one


def test_error_bar_shows_plain_words_and_details_on_request(qtbot: QtBot) -> None:
    alice = Account("alice", "alice@example.test", Endpoint("127.0.0.1", 1, Security.TLS),
                    Endpoint("127.0.0.1", 1, Security.TLS), "alice@example.test")
    window = offline_window(qtbot, accounts=[alice])
    bar = window.error_bar
    assert not bar.isVisible()
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError as cause:
            raise AuthError("The IMAP server rejected the user name or password for alice.") from cause
    except AuthError as err:
        window.report_error(err, "alice")
    assert bar.isVisible() and not bar.details.isVisible()
    assert bar.message.text() == "The IMAP server rejected the user name or password for alice."
    qtbot.mouseClick(bar.details_button, Qt.MouseButton.LeftButton)
    assert bar.details.isVisible()
    details = bar.details.toPlainText()
    assert "Account: alice@example.test (alice)" in details and "Kind: AuthError" in details
    assert "ConnectionRefusedError" in details and "Traceback" not in details and 'File "' not in details
    window.grab().save("/tmp/desk-errorbar.png")
    window.controller.problem.emit("alice", "The connection to 127.0.0.1:1 was refused.")  # from the workers
    assert bar.message.text().startswith("The connection to 127.0.0.1:1 was refused.")
    assert "1 earlier problem" in bar.message.text()
    qtbot.mouseClick(bar.details_button, Qt.MouseButton.LeftButton)
    assert not bar.details.isVisible()
    qtbot.mouseClick(bar.close_button, Qt.MouseButton.LeftButton)
    assert not bar.isVisible() and bar.problems == []
    assert window.statusBar().currentMessage() == ""  # problems no longer flash by in the status bar
    window.close()


def test_problem_details_never_contain_a_traceback() -> None:
    try:
        {}["missing"]
    except KeyError as exc:
        problem = problem_from("Something went wrong.", "alice", exc, now=0)
    assert "Kind: KeyError" in problem.details and "Traceback" not in problem.details


def folder(path: str, unread: int, total: int, owner: str | None = None) -> Folder:
    section = Section.SHARED if owner else Section.PERSONAL
    return Folder("alice", path, path.rsplit("/", 1)[-1], section, owner, "/", rights="lrswi", unread=unread, total=total)


def test_new_mail_without_a_system_tray_goes_to_title_and_status_bar(qtbot: QtBot, tmp_path: Path) -> None:
    alice = Account("alice", "alice@example.test", Endpoint("127.0.0.1", 1, Security.TLS),
                    Endpoint("127.0.0.1", 1, Security.TLS), "alice@example.test")
    window = offline_window(qtbot, tmp_path, [alice])
    notifier = window.notifier
    assert notifier.tray is None  # offscreen has no system tray: no icon, no warning, no crash
    support = "shared/support@example.test/INBOX"
    emit = window.controller.folders_changed.emit
    emit("alice", [folder("INBOX", 2, 10), folder(support, 5, 50, "support@example.test")])
    assert notifier.shown == [] and window.windowTitle().startswith("(2) ")
    emit("alice", [folder("INBOX", 3, 11), folder(support, 6, 51, "support@example.test")])
    assert notifier.shown == [("1 new message", "1 in INBOX (alice@example.test)")]
    assert "new message" in window.statusBar().currentMessage()
    # Mailbox → Notify About New Mail Here, for the open shared mailbox: on, and remembered
    window.current = folder(support, 6, 51, "support@example.test")
    window.menu("mailbox").aboutToShow.emit()
    assert window.notify_action.isEnabled() and not window.notify_action.isChecked()
    window.notify_action.trigger()
    emit("alice", [folder("INBOX", 3, 11), folder(support, 8, 53, "support@example.test")])
    assert notifier.shown[-1][1] == "2 in support@example.test: INBOX"
    assert window.windowTitle().startswith("(11) ")
    window.current = None
    window.close()
    saved = json.loads((tmp_path / "notifications.json").read_text())
    assert saved["mailboxes"] == [{"account": "alice", "path": support, "notify": True}]


def test_tray_badge_shows_the_unread_count(qtbot: QtBot) -> None:
    plain = badge_icon(icon("sharedclient"), 0, QApplication.palette()).pixmap(64, 64).toImage()
    badged = badge_icon(icon("sharedclient"), 42, QApplication.palette()).pixmap(64, 64).toImage()
    assert plain != badged
    badged.save("/tmp/desk-badge.png")
    corner = badged.pixelColor(56, 56)
    assert corner == QApplication.palette().highlight().color()  # the badge, in the palette's colour


def test_m_and_s_keys_change_the_message_on_the_server(qtbot: QtBot, imap_server, fresh_user, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.gui.test_actions import mail, open_folder  # noqa: PLC0415

    name = fresh_user.login.split("@")[0]
    imap_server.dovecot.deliver(fresh_user.login, mail(fresh_user.login, "Key presses"))
    window = open_folder(qtbot, imap_server, name, "INBOX", tmp_path)
    row = lambda: window.list_view.currentIndex().data(ROW_ROLE)  # noqa: E731
    qtbot.waitUntil(lambda: row().seen, timeout=10000)  # opening it marked it read
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=3000)
    window.list_view.setFocus()
    qtbot.keyClick(window.list_view, Qt.Key.Key_M)
    qtbot.waitUntil(lambda: not row().seen, timeout=10000)
    qtbot.keyClick(window.list_view, Qt.Key.Key_S)
    qtbot.waitUntil(lambda: "\\Flagged" in row().flags, timeout=10000)
    with imap_server.imap(name) as client:
        client.select_folder("INBOX", readonly=True)
        flags = next(iter(client.get_flags(client.search(["SUBJECT", "Key presses"])).values()))
    assert b"\\Flagged" in flags and b"\\Seen" not in flags
    window.close()


def test_long_sync_shows_progress_and_cancel_stops_it(qtbot: QtBot) -> None:
    alice = Account("alice", "alice@example.test", Endpoint("127.0.0.1", 1, Security.TLS),
                    Endpoint("127.0.0.1", 1, Security.TLS), "alice@example.test")
    window = offline_window(qtbot, accounts=[alice])
    inbox = folder("INBOX", 0, 5000)
    window.current = inbox
    stop = threading.Event()  # what the running sync checks between FETCH batches
    window.controller._cancels[("alice", "INBOX")] = stop  # noqa: SLF001
    window.controller.sync_progress.emit("alice", "INBOX", 1200, 5000)  # as the worker reports it
    busy = window.busy
    assert busy.isVisible() and busy.progress.value() == 1200 and busy.progress.maximum() == 5000
    assert busy.label.text() == "Fetching headers"
    window.controller.sync_progress.emit("alice", "Archive", 10, 900)  # another mailbox: not shown
    assert busy.progress.value() == 1200
    qtbot.mouseClick(busy.cancel_button, Qt.MouseButton.LeftButton)
    assert stop.is_set() and not busy.isVisible()
    window.controller.cancelled.emit("alice", "Sync of “INBOX” was cancelled after 1200 of 5000 messages.")
    assert "cancelled" in window.statusBar().currentMessage() and not window.error_bar.isVisible()
    window.current = None
    window.close()


def test_main_window_widgets_have_accessible_names(qtbot: QtBot) -> None:
    from PySide6.QtWidgets import QAbstractButton, QAbstractItemView, QHeaderView, QLineEdit, QTextEdit  # noqa: PLC0415

    window = offline_window(qtbot)
    unnamed = []
    for widget in window.findChildren(QWidget):
        if not isinstance(widget, (QAbstractItemView, QLineEdit, QTextEdit, QAbstractButton)) or not widget.isVisible():
            continue
        if isinstance(widget, QHeaderView):  # read out through its column titles
            continue
        if isinstance(widget, QAbstractItemView) and widget.parent() is not None and \
                isinstance(widget.parent().parent(), QAbstractItemView):
            continue
        name = widget.accessibleName() or (widget.text() if isinstance(widget, QAbstractButton) else "")
        if not name.strip():
            unnamed.append(f"{type(widget).__name__} {widget.objectName()!r}")
    assert unnamed == []
    window.close()


def test_switching_to_a_dark_palette_recolours_the_banner(qtbot: QtBot) -> None:
    from PySide6.QtGui import QColor, QPalette  # noqa: PLC0415

    window = offline_window(qtbot)
    window.current = Folder("alice", "shared/sales@example.test/INBOX", "INBOX", Section.SHARED, "sales@example.test",
                            "/", rights="lrs")
    window._show_banner(window.current)  # noqa: SLF001
    light_text = window.folder_banner.text()
    app = QApplication.instance()
    original = app.palette()
    dark = QPalette(original)
    for role, colour in ((QPalette.ColorRole.Window, "#202020"), (QPalette.ColorRole.WindowText, "#eeeeee"),
                         (QPalette.ColorRole.Text, "#eeeeee"), (QPalette.ColorRole.AlternateBase, "#303030"),
                         (QPalette.ColorRole.PlaceholderText, "#999999")):
        dark.setColor(role, QColor(colour))
    try:
        app.setPalette(dark)  # the desktop switched to dark mode
        qtbot.waitUntil(lambda: window.folder_banner.text() != light_text, timeout=2000)
        assert "#999999" in window.folder_banner.text() and "#303030" in window.folder_banner.text()
        assert "[read-only]" in window.folder_banner.text()
    finally:
        app.setPalette(original)
    window.current = None
    window.close()
