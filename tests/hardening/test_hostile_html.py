"""Hostile HTML through the real message view: zero requests, zero file reads, no script.

Each message of tests/hardening/hostile_html.py is shown in a ``MessageView`` (pytest-qt, the same widget
the main window uses), first as text, then as HTML, laid out and painted. A loopback HTTP server counts
every connection, and inotify watches the canary directory for any open or read. Positive controls prove
both detectors fire: a plain ``QTextBrowser`` reads the canary file, and a plain socket reaches the server.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import http.server
import os
import re
import struct
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QTextBrowser
from pytestqt.qtbot import QtBot

from sharedclient.core.mime.sanitize import sanitize_html
from sharedclient.ui.messageview import MessageView
from tests.hardening.hostile_html import _cases, corpus, make_canary

IN_ACCESS, IN_OPEN = 0x1, 0x20


class FileWatch:
    """inotify on a directory: every open or read of it or a file in it is an event."""

    def __init__(self, directory: Path) -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        self.fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0 or libc.inotify_add_watch(self.fd, str(directory).encode(), IN_ACCESS | IN_OPEN) < 0:
            raise OSError(ctypes.get_errno(), "inotify unavailable")

    def events(self) -> list[str]:
        names = []
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return names
            offset = 0
            while offset < len(data):
                _wd, mask, _cookie, length = struct.unpack_from("iIII", data, offset)
                name = data[offset + 16 : offset + 16 + length].rstrip(b"\0").decode()
                names.append(f"{name or '<dir>'}:{mask:#x}")
                offset += 16 + length

    def close(self) -> None:
        os.close(self.fd)


class Recorder(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        self.server.hits.append(self.path)  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    do_POST = do_GET  # noqa: N815

    def log_message(self, *args: object) -> None:
        pass


class CountingServer(http.server.ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Recorder)
        self.hits: list[str] = []
        self.connections = 0

    def verify_request(self, request: object, client_address: object) -> bool:
        self.connections += 1  # counted even if no request line ever arrives
        return True


@pytest.fixture(scope="module")
def server() -> Iterator[CountingServer]:
    srv = CountingServer()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(5)


@pytest.fixture(scope="module")
def canary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_canary(tmp_path_factory.mktemp("canary"))


@pytest.fixture
def watch(canary: Path) -> Iterator[FileWatch]:
    w = FileWatch(canary)
    yield w
    w.close()


BASE = "http://127.0.0.1:{port}"
NAMES = sorted(_cases("http://127.0.0.1:1", "/c"))


def test_the_corpus_is_big_enough() -> None:
    assert len(NAMES) >= 40


def test_detectors_fire_on_an_unprotected_browser(qtbot: QtBot, server: CountingServer, canary: Path, watch: FileWatch) -> None:
    plain = QTextBrowser()
    qtbot.addWidget(plain)
    plain.setHtml(f'<img src="{QUrl.fromLocalFile(str(canary / "secret.png")).toString()}">')
    plain.grab()
    assert plain.loadResource(QTextDocument.ResourceType.ImageResource, QUrl.fromLocalFile(str(canary / "secret.png")))
    assert any(e.startswith("secret.png") for e in watch.events())
    before = server.connections
    with socket.create_connection(server.server_address, timeout=5) as sock:  # not urllib: it honours http_proxy
        sock.sendall(b"GET /control HTTP/1.0\r\n\r\n")
        sock.recv(100)
    assert server.connections == before + 1 and server.hits[-1] == "/control"
    server.hits.clear()


@pytest.mark.parametrize("name", NAMES)
def test_hostile_html_fetches_nothing_and_reads_nothing(
    qtbot: QtBot, server: CountingServer, canary: Path, watch: FileWatch, name: str
) -> None:
    base = BASE.format(port=server.server_address[1])
    raw = corpus(base, canary)[name]
    before = server.connections
    view = MessageView()
    qtbot.addWidget(view)
    view.resize(800, 600)
    view.show()
    view.show_message(raw)
    view.grab()
    assert view.format_button.isEnabled()
    qtbot.mouseClick(view.format_button, Qt.MouseButton.LeftButton)
    assert view.prefer_html
    view.grab()  # layout and paint: any image or stylesheet would be requested now
    qtbot.wait(50)
    assert f"Visible text {name}" in view.browser.toPlainText() or name == "html-manifest"
    assert server.connections == before and server.hits == [], server.hits
    assert watch.events() == []
    html = (view.rendered.html or "").lower() if view.rendered else ""
    assert base not in html and str(canary).lower() not in html
    assert "<script" not in html and "javascript:" not in html and not re.search(r"\son\w+\s*=", html)
    assert "<iframe" not in html and "<object" not in html and "<form" not in html and "<svg" not in html
    assert view.remote_bar.isVisible() == bool(view.rendered and view.rendered.remote_images)


def test_remote_images_are_counted_for_load_once_but_never_loaded(canary: Path) -> None:
    cleaned = sanitize_html(_cases("http://127.0.0.1:9", str(canary))["img-src-http"])
    assert cleaned.remote_images == ["http://127.0.0.1:9/img.png"] and "127.0.0.1:9" not in cleaned.html
