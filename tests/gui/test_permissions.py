"""The Permissions dialog and the Access review window against the real Dovecot (pytest-qt, offscreen).

The Dovecot is shared by the whole session: every test restores the ACLs it changes in ``finally``.
Set ``SHAREDCLIENT_SCREENSHOTS=DIR`` to save what the dialogs look like.
"""

from __future__ import annotations

import csv
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QCheckBox, QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from sharedclient.core.imap.discovery import discover_folders
from sharedclient.core.imap.session import close_imap, open_imap
from sharedclient.core.store.audit import AuditLog
from sharedclient.ui.access_review import RISK_BACKGROUND, AccessReviewWindow
from sharedclient.ui.launch import build_window
from sharedclient.ui.mainwindow import MainWindow
from sharedclient.ui.permissions import PermissionsDialog, open_permissions
from tests.gui.test_mainwindow_servers import account_for

if TYPE_CHECKING:
    from tests.conftest import ImapServer

SUPPORT = "support@example.test"
SUPPORT_INBOX = "shared/support@example.test/INBOX"
SALES_INBOX = "shared/sales@example.test/INBOX"


def screenshot(widget: QWidget, name: str) -> None:
    directory = os.environ.get("SHAREDCLIENT_SCREENSHOTS")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        assert widget.grab().save(str(Path(directory) / f"{name}.png"))


def open_window(qtbot: QtBot, server: ImapServer, user: str, audit: Path | None = None) -> MainWindow:
    acct, creds = account_for(server, user)
    window = build_window([acct], creds, "test")
    if audit is not None:
        window.audit_factory = lambda: AuditLog(audit, "test", "desk-worker")  # type: ignore[attr-defined]
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: bool(window.controller.folders.get(user)), timeout=10000)
    return window


def open_dialog(qtbot: QtBot, window: MainWindow, path: str, **kwargs) -> PermissionsDialog:  # type: ignore[no-untyped-def]
    assert window.folder_pane.select_folder(next(iter(window.controller.sessions)), path)
    qtbot.waitUntil(lambda: window.current is not None and window.current.path == path)
    dialog = open_permissions(window, **kwargs)
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.access is not None and not dialog._busy, timeout=10000)  # noqa: SLF001
    return dialog


def table_rows(dialog: PermissionsDialog) -> dict[str, str]:
    return {dialog.table.item(r, 0).text(): dialog.table.item(r, 1).text() for r in range(dialog.table.rowCount())}


def visible_to(server: ImapServer, user: str) -> dict[str, str]:
    acct, _ = account_for(server, user)
    client = open_imap(acct, server.users[user].password)
    try:
        return {f.path: f.rights for f in discover_folders(client, acct)}
    finally:
        close_imap(client)


def tick(qtbot: QtBot, box: QCheckBox) -> None:
    """Click a checkbox where a person would: on its box (the widget may be wider than box + label)."""
    assert box.isVisible() and box.isEnabled()
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))


def wait_idle(qtbot: QtBot, dialog: PermissionsDialog) -> None:
    qtbot.waitUntil(lambda: not dialog._busy, timeout=10000)  # noqa: SLF001


def test_alice_grants_carol_read_only_with_preset_then_revokes(
    qtbot: QtBot, imap_server: ImapServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []

    def question(parent, title, text, *args):  # type: ignore[no-untyped-def]
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    window = open_window(qtbot, imap_server, "alice", tmp_path / "audit.sqlite")
    menu_action = window.findChild(QAction, "permissionsAction")
    assert menu_action is not None and window.findChild(QAction, "accessReviewAction") is not None
    try:
        dialog = open_dialog(qtbot, window, SUPPORT_INBOX)
        assert table_rows(dialog) == {"alice@example.test": "lrswipkxtea", "bob@example.test": "lrs"}
        assert "You administer this mailbox" in dialog.info.text()
        assert "granted on the mail server" in dialog.findChild(QWidget, "sendAsNote").text()
        qtbot.keyClicks(dialog.identifier, "carol@example.test")
        dialog.preset.setCurrentIndex(dialog.preset.findData("read-only"))
        assert dialog.chosen_rights() == "lrs"
        assert all(box.isEnabled() for box in dialog.checks.values())  # Dovecot lets every right be granted
        screenshot(dialog, "permissions-admin")
        qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: table_rows(dialog).get("carol@example.test") == "lrs", timeout=10000)
        wait_idle(qtbot, dialog)
        assert asked[0].startswith(f"Give carol@example.test the rights “lrs” on {SUPPORT}'s INBOX?")
        assert "carol@example.test now: read, mark as read." in dialog.message.text()
        assert visible_to(imap_server, "carol")[SUPPORT_INBOX] == "lrs"

        # A checkbox click turns the preset into "Custom"; the change is a "change" now.
        row = next(r for r in range(dialog.table.rowCount()) if dialog.table.item(r, 0).text() == "carol@example.test")
        dialog.table.selectRow(row)
        assert dialog.preset.currentData() == "read-only"
        tick(qtbot, dialog.checks["w"])
        assert dialog.chosen_rights() == "lrsw" and dialog.preset.currentText() == "Custom"
        qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: table_rows(dialog).get("carol@example.test") == "lrsw", timeout=10000)
        wait_idle(qtbot, dialog)
        assert asked[1].startswith("Change the rights of carol@example.test")

        qtbot.mouseClick(dialog.revoke_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "carol@example.test" not in table_rows(dialog), timeout=10000)
        wait_idle(qtbot, dialog)
        assert asked[2].startswith(f"Take all access to {SUPPORT}'s INBOX away from carol@example.test?")
        assert not any(p.startswith("shared/support@") for p in visible_to(imap_server, "carol"))
    finally:
        imap_server.dovecot.set_acl(SUPPORT, "INBOX", "carol@example.test", "")
    with AuditLog(tmp_path / "audit.sqlite", "test", "x") as log:
        trail = [(e.action, e.result, e.user, e.details["before"], e.details["after"]) for e in log.entries()]
        assert log.verify().ok
    assert trail == [
        ("acl.grant", "ok", "desk-worker", "", "lrs"),
        ("acl.change", "ok", "desk-worker", "lrs", "lrsw"),
        ("acl.revoke", "ok", "desk-worker", "lrsw", ""),
    ]
    window.close()


def test_recursive_grant_with_checkboxes_and_server_refusal(
    qtbot: QtBot, imap_server: ImapServer, fresh_user, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    sub = f"INBOX/Gui-{secrets.token_hex(3)}"
    dovecot = imap_server.dovecot
    dovecot.create_mailbox(SUPPORT, sub)  # before alice connects: Dovecot lists others' new folders per session
    who = fresh_user.login
    short = who.split("@")[0]
    questions: list[str] = []
    window = open_window(qtbot, imap_server, "alice", tmp_path / "audit.sqlite")
    try:
        dialog = open_dialog(qtbot, window, SUPPORT_INBOX, confirm=lambda t, q: questions.append(q) or True)
        # Dovecot refuses "anyone" over IMAP: one plain sentence, nothing changed.
        qtbot.keyClicks(dialog.identifier, "anyone")
        tick(qtbot, dialog.checks["l"])
        qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "disallowed" in dialog.message.text(), timeout=10000)
        wait_idle(qtbot, dialog)
        assert dialog.message.text() == (
            f"The server refused to give anyone access to {SUPPORT}'s INBOX: 'anyone' identifier is disallowed."
        )
        assert "anyone" not in table_rows(dialog)
        screenshot(dialog, "permissions-refused")

        dialog.identifier.clear()
        qtbot.keyClicks(dialog.identifier, who)
        for letter in dialog.checks:
            dialog.checks[letter].setChecked(False)
        tick(qtbot, dialog.checks["l"])
        tick(qtbot, dialog.checks["r"])
        assert dialog.chosen_rights() == "lr" and dialog.preset.currentText() == "Custom"
        assert dialog.recursive.isEnabled() and "(1)" in dialog.recursive.text()
        tick(qtbot, dialog.recursive)
        qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: table_rows(dialog).get(who) == "lr", timeout=10000)
        wait_idle(qtbot, dialog)
        assert f"{SUPPORT}'s INBOX and its 1 subfolder" in questions[-1]
        assert "Applied to 2 of 2 mailboxes." in dialog.message.text()
        screenshot(dialog, "permissions-recursive-done")
        seen = visible_to(imap_server, short)
        assert seen[SUPPORT_INBOX] == "lr" and seen[f"shared/{SUPPORT}/{sub}"] == "lr"
        qtbot.mouseClick(dialog.revoke_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: who not in table_rows(dialog), timeout=10000)
        wait_idle(qtbot, dialog)
        assert not any(p.startswith(f"shared/{SUPPORT}") for p in visible_to(imap_server, short))
    finally:
        for path in ("INBOX", sub):
            dovecot.set_acl(SUPPORT, path, who, "")
        dovecot.doveadm("mailbox", "delete", "-u", SUPPORT, sub)
    with AuditLog(tmp_path / "audit.sqlite", "test", "x") as log:
        assert [(e.action, e.result, e.target["mailbox"]) for e in log.entries()] == [
            ("acl.grant", "failed", SUPPORT_INBOX),
            ("acl.grant", "ok", SUPPORT_INBOX), ("acl.grant", "ok", f"shared/{SUPPORT}/{sub}"),
            ("acl.revoke", "ok", SUPPORT_INBOX), ("acl.revoke", "ok", f"shared/{SUPPORT}/{sub}"),
        ]  # fmt: skip
    window.close()


def test_revoking_own_admin_right_asks_twice(qtbot: QtBot, imap_server: ImapServer) -> None:
    questions: list[str] = []
    answers = iter([True, False])  # yes to the first question, no to the second
    window = open_window(qtbot, imap_server, "alice")
    before = imap_server.dovecot.doveadm("acl", "get", "-u", SUPPORT, "INBOX")
    dialog = open_dialog(qtbot, window, SUPPORT_INBOX, confirm=lambda t, q: questions.append(q) or next(answers))
    row = next(r for r in range(dialog.table.rowCount()) if dialog.table.item(r, 0).text() == "alice@example.test")
    dialog.table.selectRow(row)
    assert dialog.identifier.text() == "alice@example.test" and dialog.revoke_button.isEnabled()
    qtbot.mouseClick(dialog.revoke_button, Qt.MouseButton.LeftButton)
    assert len(questions) == 2 and "your own right to administer" in questions[1]
    assert not dialog._busy  # noqa: SLF001 - nothing was sent
    # Unticking only "administer" on yourself asks twice as well.
    answers = iter([True, False])
    tick(qtbot, dialog.checks["a"])
    qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
    assert len(questions) == 4 and "your own right to administer" in questions[3]
    qtbot.wait(200)
    assert imap_server.dovecot.doveadm("acl", "get", "-u", SUPPORT, "INBOX") == before
    window.close()


def test_bob_gets_a_read_only_dialog_for_sales(qtbot: QtBot, imap_server: ImapServer) -> None:
    window = open_window(qtbot, imap_server, "bob")
    dialog = open_dialog(qtbot, window, SALES_INBOX, confirm=lambda t, q: pytest.fail("nothing to confirm"))
    assert dialog.access is not None and not dialog.access.administrable
    assert "only an administrator of this mailbox can change who may use it" in dialog.info.text()
    assert "Your rights: read, mark as read, flag and tag" in dialog.info.text()
    assert table_rows(dialog) == {"bob@example.test (you)": "lrswipkxte"}
    assert not dialog.apply_button.isEnabled() and not dialog.revoke_button.isEnabled()
    assert not dialog.preset.isEnabled() and dialog.identifier.isReadOnly()
    assert not any(box.isEnabled() for box in dialog.checks.values())
    assert dialog.checks["t"].isChecked() and not dialog.checks["a"].isChecked()  # shows bob's own rights
    assert "granted on the mail server" in dialog.findChild(QWidget, "sendAsNote").text()
    screenshot(dialog, "permissions-read-only")
    window.close()


def test_access_review_window_highlights_risks_and_exports(
    qtbot: QtBot, imap_server: ImapServer, tmp_path: Path
) -> None:
    dovecot = imap_server.dovecot
    dovecot.set_acl(SUPPORT, "Archive", "anyone", "l")
    try:
        window = open_window(qtbot, imap_server, "alice")
        action = window.findChild(QAction, "accessReviewAction")
        action.trigger()
        review: AccessReviewWindow = window.access_review_window  # type: ignore[attr-defined]
        qtbot.waitUntil(lambda: not review.loading, timeout=10000)
        with imap_server.imap("alice") as client:
            expected = [
                (path, who.decode())
                for path in (f"shared/{SUPPORT}/{name}" for name in ("INBOX", "Sent", "Archive"))
                for who, _ in client.getacl(path)
            ]
    finally:
        dovecot.set_acl(SUPPORT, "Archive", "anyone", "")
    table = review.table
    rows = [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]
    assert sorted((r[1], r[3]) for r in rows if r[1].startswith(f"shared/{SUPPORT}")) == sorted(expected)
    assert not any(r[1].startswith("shared/sales@") for r in rows)
    anyone = next(i for i, r in enumerate(rows) if r[3] == "anyone")
    assert rows[anyone][5].startswith("⚠ Open to anyone")
    assert table.item(anyone, 0).background().color() == RISK_BACKGROUND
    bob = next(i for i, r in enumerate(rows) if r[3] == "bob@example.test")
    assert rows[bob][5] == "" and table.item(bob, 0).background().color() != RISK_BACKGROUND
    assert "need a look" in review.summary.text()
    screenshot(review, "access-review")
    review.only_risky.setChecked(True)
    assert table.rowCount() == sum(1 for r in rows if r[5])
    target = tmp_path / "review.csv"
    review.choose_file = lambda: str(target)
    qtbot.mouseClick(review.export_button, Qt.MouseButton.LeftButton)
    with target.open(newline="", encoding="utf-8") as f:
        exported = list(csv.DictReader(f))
    assert len(exported) == len(rows)  # every row, whatever the filter shows
    assert {(e["mailbox"], e["identifier"]) for e in exported} == {(r[1], r[3]) for r in rows}
    assert "Saved to" in review.summary.text()
    review.close()
    window.close()


def test_carols_window_shows_the_grant_and_follows_the_revoke(
    qtbot: QtBot, imap_server: ImapServer, tmp_path: Path
) -> None:
    """Carol logs in after the grant and sees the shared INBOX read-only; the revoke reaches her open window.

    (Dovecot lists a newly shared mailbox only to sessions that log in after the grant, while a revoke
    is visible at once; so the window is opened after granting.)
    """
    from sharedclient.core.imap.acl import change_access

    acct, _ = account_for(imap_server, "alice")
    admin = open_imap(acct, imap_server.users["alice"].password)
    try:
        change_access(admin, acct, SUPPORT_INBOX, "carol@example.test", "lrs")
        carol = open_window(qtbot, imap_server, "carol")
        item = carol.folder_pane.folder_items()[("carol", SUPPORT_INBOX)]
        assert "[read-only]" in item.text() and "cannot delete" in item.toolTip()
        # Let the sync that opening starts finish first: a revoke landing mid-sync is a different story
        # (that sync then fails with "you can no longer open it", which this test does not look at).
        with qtbot.waitSignal(carol.controller.synced, timeout=15000, check_params_cb=lambda *a: a[1] == SUPPORT_INBOX):
            carol.folder_pane.select_folder("carol", SUPPORT_INBOX)
        assert "read-only" in carol.folder_banner.text()

        change_access(admin, acct, SUPPORT_INBOX, "carol@example.test", None)
        with qtbot.assert_not_emitted(carol.controller.problem, wait=0):
            carol.controller.refresh_folders()
            qtbot.waitUntil(lambda: ("carol", SUPPORT_INBOX) not in carol.folder_pane.folder_items(), timeout=10000)
        assert "You no longer have access" in carol.folder_banner.text() and carol.current is None
    finally:
        imap_server.dovecot.set_acl(SUPPORT, "INBOX", "carol@example.test", "")
        close_imap(admin)
    carol.close()
