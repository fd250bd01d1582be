"""Hostile attachment names always save inside the chosen folder and never overwrite anything.

The names travel as the sender wrote them (RFC 2231 ``filename*``, so NUL, CR/LF and any byte can be in
them) through the real message view and the window's save action (against the real Dovecot), and through
``save_attachment`` directly with traps in the folder: existing files, a dangling symlink and a symlink
to a file outside, each with a name an attachment asks for.
"""

from __future__ import annotations

import os
import tempfile
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytestqt.qtbot import QtBot

from sharedclient.core.mime.filenames import MAX_NAME_BYTES, save_attachment
from sharedclient.core.mime.render import attachment_payload, render_message
from sharedclient.devservers.dovecot import MailUser
from sharedclient.ui.launch import build_window
from tests.gui.test_mainwindow_servers import account_for

if TYPE_CHECKING:
    from tests.conftest import ImapServer

HOSTILE = [
    "../../../../../tmp/evil.sh", "/etc/passwd", "C:\\Windows\\System32\\evil.dll", "\\\\host\\share\\x.exe",
    "inv\x00oice.pdf", "invoice\u202efdp.exe", "a" * 300 + ".pdf", "ü" * 300 + ".txt", "CON", "con.txt", "NUL.tar.gz",
    "COM1", "LPT9.log", "CONOUT$", "..", ".", "", ".bashrc", "invoice.pdf            .exe", "dir/", "~/.ssh/authorized_keys",
    "%2e%2e%2fevil", "file\r\nname.txt", "tab\there.txt", "report.pdf", "report.pdf", "REPORT.pdf", "report (2).pdf",
    "trap-existing.txt", "trap-dangling.txt", "trap-outside.txt", "😀.png", " leading and trailing . ",
]  # fmt: skip


def message_with(names: list[str]) -> bytes:
    """Attachment i holds b"payload i"; names in RFC 2231 form so every byte survives."""
    parts = [b"--b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n"]
    for i, name in enumerate(names):
        quoted = urllib.parse.quote(name.encode("utf-8"), safe="")
        parts.append(
            f"--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; "
            f"filename*=utf-8''{quoted}\r\n\r\npayload {i}\r\n".encode()
        )
    return (b"From: Mallory <m@evil.test>\r\nTo: support@example.test\r\nSubject: Names\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n' + b"".join(parts) + b"--b--\r\n")  # fmt: skip


def traps(tmp_path: Path) -> tuple[Path, Path, dict[Path, bytes]]:
    """The chosen folder with files and symlinks in the way, and a file outside it; returns their contents."""
    target, outside = tmp_path / "chosen", tmp_path / "outside"
    target.mkdir()
    outside.mkdir()
    (outside / "victim.txt").write_bytes(b"outside, untouched")
    (target / "trap-existing.txt").write_bytes(b"was here first")
    (target / "trap-dangling.txt").symlink_to(outside / "would-be-created.txt")
    (target / "trap-outside.txt").symlink_to(outside / "victim.txt")
    (target / "report.pdf").write_bytes(b"older report")
    before = {p: p.read_bytes() for p in (outside / "victim.txt", target / "trap-existing.txt", target / "report.pdf")}
    return target, outside, before


def check_folder(target: Path, outside: Path, before: dict[Path, bytes], saved: list[Path], count: int) -> None:
    assert len(saved) == count and len(set(saved)) == count, "every attachment gets its own new file"
    for path in saved:
        assert path.parent == target and not path.is_symlink() and path.is_file()
        assert len(path.name.encode()) <= MAX_NAME_BYTES and "\x00" not in path.name and "\u202e" not in path.name
        assert path.name.split(".")[0].upper() not in {"CON", "NUL", "COM1", "LPT9", "CONOUT$"}
        assert not path.name.startswith((".", " ")) and not path.name.endswith((".", " "))
    for path, data in before.items():
        assert path.read_bytes() == data, f"{path} was overwritten"
    assert sorted(p.name for p in outside.iterdir()) == ["victim.txt"], "nothing was created outside"
    assert (target / "trap-dangling.txt").is_symlink() and (target / "trap-outside.txt").is_symlink()


def test_save_attachment_with_traps_in_the_folder(tmp_path: Path) -> None:
    raw = message_with(HOSTILE)
    rendered = render_message(raw)
    assert [a.filename for a in rendered.attachments][4:6] == ["inv\x00oice.pdf".replace("\x00", ""), "invoice\u202efdp.exe"]
    target, outside, before = traps(tmp_path)
    saved = [save_attachment(target, a.filename, attachment_payload(raw, a.index)) for a in rendered.attachments]
    check_folder(target, outside, before, saved, len(HOSTILE))
    for i, path in enumerate(saved):
        assert path.read_bytes() == f"payload {i}".encode()
    names = {p.name for p in saved}
    assert {"evil.sh", "passwd", "evil.dll", "x.exe", "invoicefdp.exe", "_CON", "_con.txt", "invoice.pdf .exe"} <= names
    assert "report (2).pdf" in names and "report (3).pdf" in names and "trap-existing (2).txt" in names


@settings(max_examples=500, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.text(max_size=40), st.sampled_from(HOSTILE)), min_size=1, max_size=6))
def test_any_names_save_inside_and_never_collide(tmp_path: Path, names: list[str]) -> None:
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    saved = [save_attachment(folder, name, name.encode("utf-8", "surrogatepass")) for name in names]
    assert len(set(saved)) == len(names) and all(p.parent == folder for p in saved)
    assert sorted(os.listdir(folder)) == sorted(p.name for p in saved)
    for name, path in zip(names, saved):
        assert path.read_bytes() == name.encode("utf-8", "surrogatepass")


def test_window_saves_every_hostile_attachment_inside_the_chosen_folder(
    qtbot: QtBot, imap_server: ImapServer, fresh_user: MailUser, tmp_path: Path
) -> None:
    """The real path: Dovecot -> message list -> reading pane -> activate attachment -> save."""
    raw = message_with(HOSTILE)
    imap_server.dovecot.deliver(fresh_user.login, raw)
    name = fresh_user.login.split("@")[0]
    acct, creds = account_for(imap_server, name)
    window = build_window([acct], creds, "test", tmp_path / "profile")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: bool(window.controller.folders.get(name)), timeout=10000)
    window.folder_pane.select_folder(name, "INBOX")
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=10000)
    window.list_view.selectRow(0)
    qtbot.waitUntil(lambda: window.view.attachments.count() == len(HOSTILE), timeout=10000)
    window.grab().save("/tmp/hostile-attachments.png")
    shown = [window.view.attachments.item(r).text() for r in range(window.view.attachments.count())]
    assert shown[0].startswith("📎 evil.sh ") and shown[5].startswith("📎 invoicefdp.exe ")  # as it will be saved
    assert not any("\u202e" in s or "/" in s.split("  (")[0] for s in shown)
    target, outside, before = traps(tmp_path)
    window.choose_folder = lambda: str(target)
    messages = []
    for row in range(window.view.attachments.count()):
        window.view.attachments.itemActivated.emit(window.view.attachments.item(row))
        messages.append(window.statusBar().currentMessage())
    saved = [Path(m.split("Saved as ", 1)[1]) for m in messages if m.startswith("Saved as ")]
    assert len(saved) == len(HOSTILE), messages
    check_folder(target, outside, before, saved, len(HOSTILE))
    for i, path in enumerate(saved):
        assert path.read_bytes() == f"payload {i}".encode()
    window.close()
