"""Reading mail in the window against the real Dovecot: list, view, HTML safety, attachments."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from sharedclient.core.mime.filenames import save_attachment
from sharedclient.core.mime.render import attachment_payload
from sharedclient.devservers.dovecot import MailUser
from tests.gui.test_mainwindow_servers import account_for
from sharedclient.ui.launch import build_window
from sharedclient.ui.messagelist import ROW_ROLE

if TYPE_CHECKING:
    from tests.conftest import ImapServer


class CountingHandler(http.server.BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        CountingHandler.requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[tuple[str, list[str]]]:
    CountingHandler.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), CountingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", CountingHandler.requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def hostile_html(base: str) -> str:
    return f"""<html><head><link rel=stylesheet href="{base}/style.css">
<style>@import url({base}/import.css); body {{ background: url({base}/bg.png) }}</style>
<meta http-equiv="refresh" content="0;url={base}/refresh"></head>
<body background="{base}/body-bg.png"><p style="background-image:url({base}/p.png)">Hello from a tracker</p>
<img src="{base}/pixel.png" width=1 height=1><img srcset="{base}/srcset.png 2x">
<img src="file:///etc/passwd"><img src="cid:missing@x"><iframe src="{base}/frame"></iframe>
<object data="{base}/obj"></object><form action="{base}/form"><input name=a></form>
<a href="javascript:alert(1)">js</a><script>fetch('{base}/script')</script>
<table background="{base}/table.png"><tr><td>cell</td></tr></table></body></html>"""


def deliver_fixture_mail(server: ImapServer, user: MailUser, base: str) -> None:
    html = EmailMessage()
    html["From"] = "Tracker <news@example.org>"
    html["To"] = user.login
    html["Subject"] = "Newsletter with a tracking pixel"
    html.set_content("plain part")
    html.add_alternative(hostile_html(base), subtype="html")
    server.dovecot.deliver(user.login, html.as_bytes())

    att = EmailMessage()
    att["From"] = "Zoë Müller <zoe@example.org>"
    att["Sender"] = "Alice <alice@example.org>"
    att["To"] = user.login
    att["Subject"] = "Invoice attached"
    att.set_content("See attachment.")
    att.add_attachment(b"%PDF-1.4 tiny", maintype="application", subtype="pdf", filename="../../evil\u202efdp.exe")
    server.dovecot.deliver(user.login, att.as_bytes())


def open_window(qtbot: QtBot, server: ImapServer, user: MailUser, tmp_path: Path):  # type: ignore[no-untyped-def]
    name = user.login.split("@")[0]
    acct, creds = account_for(server, name)
    window = build_window([acct], creds, "test", tmp_path)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: bool(window.controller.folders.get(name)), timeout=10000)
    window.folder_pane.select_folder(name, "INBOX")
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=10000)
    return window


def select_subject(qtbot: QtBot, window, subject: str) -> None:  # type: ignore[no-untyped-def]
    for row in range(window.model.rowCount()):
        if window.model.index(row, 2).data() == subject:
            window.list_view.selectRow(row)
            break
    qtbot.waitUntil(lambda: window.view.rendered is not None and window.view.rendered.headers["Subject"] == subject,
                    timeout=10000)


def test_remote_content_is_never_fetched(
    qtbot: QtBot, imap_server: ImapServer, fresh_user: MailUser, http_server: tuple[str, list[str]], tmp_path: Path
) -> None:
    base, requests = http_server
    deliver_fixture_mail(imap_server, fresh_user, base)
    window = open_window(qtbot, imap_server, fresh_user, tmp_path)
    select_subject(qtbot, window, "Newsletter with a tracking pixel")
    assert window.view.browser.toPlainText().strip() == "plain part"
    assert window.view.remote_bar.isVisible()
    qtbot.mouseClick(window.view.format_button, Qt.MouseButton.LeftButton)
    assert window.view.prefer_html
    window.view.browser.grab()  # force layout and painting: any resource would be requested now
    qtbot.wait(500)
    html = window.view.rendered.html
    assert base not in html and "file:" not in html and "javascript" not in html.lower()
    assert "Hello from a tracker" in window.view.browser.toPlainText()
    assert requests == []
    window.close()


def test_list_view_and_attachment_saving(
    qtbot: QtBot, imap_server: ImapServer, fresh_user: MailUser, http_server: tuple[str, list[str]], tmp_path: Path
) -> None:
    deliver_fixture_mail(imap_server, fresh_user, http_server[0])
    window = open_window(qtbot, imap_server, fresh_user, tmp_path)
    rows = [window.model.index(r, 0).data(ROW_ROLE) for r in range(2)]
    assert all(not r.seen for r in rows)
    select_subject(qtbot, window, "Invoice attached")
    assert window.view.rendered.sender_view == "Alice on behalf of Zoë Müller <zoe@example.org>"
    assert "Alice on behalf of Zoë Müller &lt;zoe@example.org&gt;" in window.view.header_label.text()
    qtbot.waitUntil(lambda: window.view.attachments.count() == 1, timeout=5000)
    att = window.view.attachments.item(0).data(256)
    target = tmp_path / "downloads"
    target.mkdir()
    saved = save_attachment(target, att.filename, attachment_payload(window.view.raw, att.index))
    assert saved.parent == target and saved.name == "evilfdp.exe"
    # reading marked it read on the server, and the list shows it
    qtbot.waitUntil(lambda: window.list_view.currentIndex().data(ROW_ROLE).seen, timeout=5000)
    window.model.set_search("newsletter")
    assert window.model.rowCount() == 1
    window.close()


def test_safe_browser_refuses_local_files_that_a_plain_qtextbrowser_reads(qtbot: QtBot, tmp_path: Path) -> None:
    from PySide6.QtCore import QUrl
    from PySide6.QtGui import QTextDocument
    from PySide6.QtWidgets import QTextBrowser

    from sharedclient.ui.messageview import SafeBrowser

    secret = tmp_path / "secret.txt"
    secret.write_text("private")
    url = QUrl.fromLocalFile(str(secret))
    plain, safe = QTextBrowser(), SafeBrowser()
    qtbot.addWidget(plain)
    qtbot.addWidget(safe)
    assert plain.loadResource(QTextDocument.ResourceType.HtmlResource, url) is not None  # what we defend against
    assert safe.loadResource(QTextDocument.ResourceType.HtmlResource, url) is None
    assert safe.loadResource(QTextDocument.ResourceType.ImageResource, QUrl("http://127.0.0.1:9/x.png")) is None
    safe.inline_parts = {"logo@x": ("image/png", b"")}
    safe.setHtml('<a href="file:///etc/passwd">x</a>')
    safe.setSource(url)
    assert "private" not in safe.toPlainText()


def test_load_once_fetches_only_the_images_and_only_on_request(
    qtbot: QtBot, imap_server: ImapServer, fresh_user: MailUser, http_server: tuple[str, list[str]], tmp_path: Path
) -> None:
    base, requests = http_server
    deliver_fixture_mail(imap_server, fresh_user, base)
    window = open_window(qtbot, imap_server, fresh_user, tmp_path)
    select_subject(qtbot, window, "Newsletter with a tracking pixel")
    qtbot.wait(200)
    assert requests == []
    qtbot.mouseClick(window.view.load_once_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.view.remote_bar.isVisible(), timeout=10000)
    assert requests == ["/pixel.png"]  # the <img>; never CSS, frames, forms, scripts or srcset
    select_subject(qtbot, window, "Invoice attached")
    select_subject(qtbot, window, "Newsletter with a tracking pixel")
    assert window.view.remote_bar.isVisible()  # "once": not remembered
    window.close()


def test_saving_an_attachment_from_the_view(
    qtbot: QtBot, imap_server: ImapServer, fresh_user: MailUser, http_server: tuple[str, list[str]], tmp_path: Path
) -> None:
    deliver_fixture_mail(imap_server, fresh_user, http_server[0])
    window = open_window(qtbot, imap_server, fresh_user, tmp_path)
    select_subject(qtbot, window, "Invoice attached")
    target = tmp_path / "dl"
    target.mkdir()
    (target / "evilfdp.exe").write_bytes(b"existing")
    window.choose_folder = lambda: str(target)
    item = window.view.attachments.item(0)
    window.view.attachments.itemActivated.emit(item)
    assert (target / "evilfdp.exe").read_bytes() == b"existing"
    assert (target / "evilfdp (2).exe").read_bytes() == b"%PDF-1.4 tiny"
    assert "Saved as" in window.statusBar().currentMessage()
    window.close()


def test_body_text_is_searched_on_the_server(
    qtbot: QtBot, imap_server: ImapServer, fresh_user: MailUser, http_server: tuple[str, list[str]], tmp_path: Path
) -> None:
    deliver_fixture_mail(imap_server, fresh_user, http_server[0])
    window = open_window(qtbot, imap_server, fresh_user, tmp_path)
    qtbot.keyClicks(window.search, "attachment")  # only in a body ("See attachment."), not in any header
    qtbot.waitUntil(lambda: window.model.rowCount() == 0, timeout=5000)
    window.server_search.setChecked(True)
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=10000)
    assert window.model.index(0, 2).data() == "Invoice attached"
    window.server_search.setChecked(False)
    qtbot.waitUntil(lambda: window.model.rowCount() == 0, timeout=5000)
    window.search.clear()
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=5000)
    window.close()
