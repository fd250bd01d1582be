"""The composer widget on its own: From-picker, validation, drafts, attachments, Ctrl+Enter."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from sharedclient.core.drafts import Draft, DraftStore
from sharedclient.core.model import Identity, SendMode
from sharedclient.ui.composer import Composer, check_recipients

IDENTITIES = [
    Identity("sales@example.test", "Sales", "work", SendMode.ON_BEHALF, mailbox_owner="sales@example.test"),
    Identity("support@example.test", "Support Team", "work", SendMode.SEND_AS, mailbox_owner="support@example.test"),
    Identity("alice@example.test", "Alice", "work", SendMode.OWN),
]


def view(identity: Identity) -> str:
    if identity.mode is SendMode.ON_BEHALF:
        return f"Alice on behalf of {identity.name} <{identity.address}>"
    return f"{identity.name} <{identity.address}>"


def make(qtbot: QtBot, tmp_path: Path, **kw) -> Composer:  # type: ignore[no-untyped-def]
    composer = Composer(IDENTITIES, view, DraftStore(tmp_path / "drafts"), **kw)
    composer.ask_on_close = lambda: QMessageBox.StandardButton.Discard  # type: ignore[method-assign]  # no modal dialogs
    qtbot.addWidget(composer)
    composer.show()
    composer.activateWindow()
    qtbot.waitActive(composer)
    return composer


def test_from_picker_lists_own_first_then_shared_grouped(qtbot: QtBot, tmp_path: Path) -> None:
    c = make(qtbot, tmp_path)
    entries = [c.from_picker.itemText(i) for i in range(c.from_picker.count())]
    assert entries == [
        "Alice <alice@example.test> — your address",
        "",  # separator
        "Sales <sales@example.test> — On Behalf",
        "",
        "Support Team <support@example.test> — Send As",
    ]
    c.from_picker.setCurrentIndex(2)
    assert c.recipient_view_label.text() == "Recipients will see: Alice on behalf of Sales <sales@example.test>"
    c.from_picker.setCurrentIndex(4)
    assert c.recipient_view_label.text() == "Recipients will see: Support Team <support@example.test>"


def test_reply_identity_and_reason_are_preselected(qtbot: QtBot, tmp_path: Path) -> None:
    c = make(qtbot, tmp_path, draft=Draft(identity="sales@example.test", subject="Re: quote"),
             reason="received via sales@example.test")
    assert c.current_identity().address == "sales@example.test"
    assert c.reason_label.isVisible() and "sales@" in c.reason_label.text()


def test_inline_validation_and_ctrl_enter(qtbot: QtBot, tmp_path: Path) -> None:
    c = make(qtbot, tmp_path)
    qtbot.keyClicks(c.to_field, "customer@example.org, broken@")
    assert "“broken@” is not an address SharedClient can send to" in c.to_field.toolTip()
    with qtbot.assertNotEmitted(c.send_requested):
        qtbot.keyClick(c.body, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert "broken@" in c.status.text()
    c.to_field.setText('customer@example.org, "Smith, Jo" <jo@example.org>')
    qtbot.keyClicks(c.subject, "Your order")
    qtbot.keyClicks(c.body, "Hello!")
    with qtbot.waitSignal(c.send_requested) as sent:
        qtbot.keyClick(c.body, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    draft: Draft = sent.args[0]
    assert draft.to == ("customer@example.org", '"Smith, Jo" <jo@example.org>')
    assert (draft.subject, draft.body, draft.identity) == ("Your order", "Hello!", "alice@example.test")
    assert not c.send_button.isEnabled()
    c.send_failed("support@ requires Send As permission; the server refused: 553 5.7.1 …")
    assert c.send_button.isEnabled() and "553" in c.status.text()
    c.sent()
    assert DraftStore(tmp_path / "drafts").pending() == []


def test_autosave_and_restore(qtbot: QtBot, tmp_path: Path) -> None:
    c = make(qtbot, tmp_path)
    c.autosave.setInterval(50)
    qtbot.keyClicks(c.body, "typed before the crash")
    qtbot.waitUntil(lambda: bool(DraftStore(tmp_path / "drafts").pending()), timeout=3000)
    [saved] = DraftStore(tmp_path / "drafts").pending()
    assert saved.body == "typed before the crash"
    restored = make(qtbot, tmp_path, draft=saved)
    assert restored.body.toPlainText() == "typed before the crash"


def test_closing_with_unsent_text_asks(qtbot: QtBot, tmp_path: Path) -> None:
    c = make(qtbot, tmp_path)
    qtbot.keyClicks(c.body, "half a thought")
    c.ask_on_close = lambda: QMessageBox.StandardButton.Cancel  # type: ignore[method-assign]
    c.close()
    assert c.isVisible()
    c.ask_on_close = lambda: QMessageBox.StandardButton.Save  # type: ignore[method-assign]
    c.close()
    assert not c.isVisible()
    assert DraftStore(tmp_path / "drafts").pending()[0].body == "half a thought"


def test_drop_files_to_attach(qtbot: QtBot, tmp_path: Path) -> None:
    c = make(qtbot, tmp_path)
    f = tmp_path / "invoice.pdf"
    f.write_bytes(b"x" * 2048)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(f)), QUrl.fromLocalFile(str(tmp_path / "missing.txt"))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    c.dropEvent(event)
    assert c.attachments.count() == 1 and c.attachments.item(0).text() == "invoice.pdf  (2.0 KB)"
    assert "missing.txt" in c.status.text()
    assert c.current_draft().attachments == (str(f),)


def test_check_recipients() -> None:
    assert check_recipients('a@example.org; "Doe, J" <j@example.org>')[1] == ""
    assert "line break" in check_recipients("a@example.org\r\nBcc: x@y.z")[1]
    assert "not a valid address" in check_recipients('a@x <b@example.org>')[1]
