"""The reading pane: headers as the recipient sees them, the body as plain text or sanitized HTML.

``SafeBrowser`` refuses every resource but the message's own ``cid:`` parts: QTextBrowser would
otherwise read ``file:`` paths by itself, and remote images would tell the sender the mail was read.
"""

from __future__ import annotations

import html
import logging
from typing import Any

from PySide6.QtCore import QByteArray, QUrl, Signal
from PySide6.QtGui import QImage, QTextDocument
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from sharedclient.core.mime.filenames import safe_filename
from sharedclient.core.mime.render import DISPLAY_LIMIT, RenderedMessage, raw_fallback, render_message
from sharedclient.ui.messagelist import human_size
from sharedclient.ui.palette import muted, tone

log = logging.getLogger(__name__)


def _render(raw: bytes, *, allow_remote_images: bool = False) -> RenderedMessage:
    """render_message never raises on bad mail; should it fail anyway, the source is still shown."""
    try:
        return render_message(raw, allow_remote_images=allow_remote_images)
    except Exception:  # noqa: BLE001 - a bug must not leave the pane blank
        log.exception("rendering a message failed")
        return raw_fallback(raw, "This message could not be displayed; its source is shown instead.")


def _short(value: str, limit: int = 400) -> str:
    """A header row fits in a few lines: 10,000 recipients must not push the body off the pane."""
    return value if len(value) <= limit else f"{value[:limit]} … (the rest is in View source)"


class SafeBrowser(QTextBrowser):
    """A QTextBrowser that loads nothing from outside the message."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.inline_parts: dict[str, tuple[str, bytes]] = {}
        self.remote_images: dict[str, bytes] = {}  # filled only after the user chose "load once"
        self.refused: list[str] = []

    def loadResource(self, type_: int, url: QUrl | str) -> Any:  # noqa: N802 - Qt override
        qurl = QUrl(url) if isinstance(url, str) else url
        remote = self.remote_images.get(qurl.toString())
        if remote is not None and type_ == QTextDocument.ResourceType.ImageResource:
            image = QImage()
            image.loadFromData(QByteArray(remote))
            return image
        if qurl.scheme().lower() == "cid":
            part = self.inline_parts.get(qurl.path()) or self.inline_parts.get(qurl.toString()[4:])
            if part is not None and type_ == QTextDocument.ResourceType.ImageResource:
                image = QImage()
                image.loadFromData(QByteArray(part[1]))
                return image
        self.refused.append(qurl.toString())
        return None  # never http, https, file, qrc, relative paths or unknown cid

    def setSource(self, name: QUrl, type_: QTextDocument.ResourceType = QTextDocument.ResourceType.UnknownResource) -> None:  # noqa: N802
        self.refused.append(name.toString())  # navigation is never followed inside the pane


class MessageView(QWidget):
    """Shows one rendered message. ``show_html_requested`` asks the owner to re-render."""

    show_source_requested = Signal()
    save_attachment_requested = Signal(object)  # Attachment
    load_remote_requested = Signal(object)  # list of image URLs
    message_changed = Signal()  # another message (or none) is shown: the notes panel follows it
    load_whole_requested = Signal()  # a message shown only in part: fetch and show all of it
    save_message_requested = Signal()  # a message shown only in part: stream all of it to a file

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageView")
        self.raw: bytes = b""
        self.total = 0  # the message's whole size; more than len(raw) when only its start was fetched
        #: Bytes of a message fetched for display at most; bigger ones show their start and a notice.
        self.display_limit: int | None = DISPLAY_LIMIT
        self.rendered: RenderedMessage | None = None
        self.prefer_html = False

        self.header_label = QLabel()
        self.header_label.setObjectName("messageHeaders")
        self.header_label.setWordWrap(True)
        self.header_label.setTextFormat(self.header_label.textFormat().RichText)
        self.header_label.setTextInteractionFlags(self.header_label.textInteractionFlags().TextSelectableByMouse)

        self.remote_bar = QFrame()
        self.remote_bar.setObjectName("remoteContentBar")
        self.remote_bar.setStyleSheet(  # a light bar with its own dark text: readable in light and dark themes
            "#remoteContentBar { background: #fff8e1; border: 1px solid #ffe082; } #remoteContentBar QLabel { color: #3e2723; }")
        bar = QHBoxLayout(self.remote_bar)
        bar.setContentsMargins(8, 4, 8, 4)
        self.remote_label = QLabel()
        self.remote_label.setWordWrap(True)
        bar.addWidget(self.remote_label, 1)
        self.load_once_button = QPushButton(self.tr("Load once"))
        self.load_once_button.setObjectName("loadOnce")
        self.load_once_button.clicked.connect(self._request_remote)
        bar.addWidget(self.load_once_button)
        self.remote_bar.hide()

        self.format_button = QPushButton(self.tr("Show HTML"))
        self.format_button.setObjectName("formatButton")
        self.format_button.clicked.connect(self.toggle_format)
        self.source_button = QPushButton(self.tr("View source"))
        self.source_button.clicked.connect(self.show_source_requested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.format_button)
        buttons.addWidget(self.source_button)
        buttons.addStretch(1)

        self.problem_label = QLabel()
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet(f"color: {tone('warning', self)}")
        self.problem_label.hide()

        self.browser = SafeBrowser()
        self.browser.setObjectName("messageBody")
        self.attachments = QListWidget()
        self.attachments.setObjectName("attachments")
        self.attachments.setMaximumHeight(90)
        self.attachments.hide()
        self.attachments.itemActivated.connect(lambda item: self.save_attachment_requested.emit(item.data(256)))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.header_label)
        layout.addLayout(buttons)
        layout.addWidget(self.problem_label)
        layout.addWidget(self.remote_bar)
        layout.addWidget(self._build_partial_bar())
        layout.addWidget(self.browser, 1)
        layout.addWidget(self.attachments)
        self.clear()

    def _build_partial_bar(self) -> QFrame:
        self.partial_bar = QFrame()
        self.partial_bar.setObjectName("partialMessageBar")
        self.partial_bar.setStyleSheet(
            "#partialMessageBar { background: #e3f2fd; border: 1px solid #90caf9; } #partialMessageBar QLabel { color: #0d47a1; }")
        bar = QHBoxLayout(self.partial_bar)
        bar.setContentsMargins(8, 4, 8, 4)
        self.partial_label = QLabel()
        self.partial_label.setWordWrap(True)
        bar.addWidget(self.partial_label, 1)
        self.load_whole_button = QPushButton(self.tr("Load whole message"))
        self.load_whole_button.setObjectName("loadWhole")
        self.load_whole_button.clicked.connect(self.load_whole_requested)
        bar.addWidget(self.load_whole_button)
        self.save_message_button = QPushButton(self.tr("Save message as…"))
        self.save_message_button.setObjectName("saveMessage")
        self.save_message_button.clicked.connect(self.save_message_requested)
        bar.addWidget(self.save_message_button)
        self.partial_bar.hide()
        return self.partial_bar

    @property
    def partial(self) -> bool:
        """Only the start of the message is here: its attachments and a reply need all of it."""
        return self.total > len(self.raw)

    def clear(self) -> None:
        self.raw = b""
        self.total = 0
        self.partial_bar.hide()
        self.rendered = None
        self.header_label.setText("")
        self.browser.clear()
        self.attachments.clear()
        self.attachments.hide()
        self.remote_bar.hide()
        self.problem_label.hide()
        self.format_button.setEnabled(False)
        self.source_button.setEnabled(False)
        self.message_changed.emit()

    def show_message(self, raw: bytes, total: int | None = None) -> None:
        """Show ``raw``; with ``total`` > len(raw) it is only the start of a bigger message."""
        self.raw = raw
        self.total = max(total or 0, len(raw))
        self.browser.remote_images = {}
        self.rendered = _render(raw)
        self._fill()
        if self.partial:
            self.partial_label.setText(
                self.tr("This message is %1, so only its first %2 are shown. Its attachments and replying need "
                        "the whole message.").replace("%1", human_size(self.total)).replace("%2", human_size(len(raw)))
            )
            self.load_whole_button.setEnabled(True)
            self.attachments.hide()  # they would be cut off: never offered for saving
            self.problem_label.hide()  # the cut itself looks like a broken message: not the sender's fault
        self.partial_bar.setVisible(self.partial)
        self.message_changed.emit()

    def _request_remote(self) -> None:
        if self.rendered is not None and self.rendered.remote_images:
            self.load_once_button.setEnabled(False)
            self.load_remote_requested.emit(list(self.rendered.remote_images))

    def show_remote_images(self, images: dict[str, bytes]) -> None:
        """Show this message once more with the fetched remote images (never remembered)."""
        if not self.raw:
            return
        self.browser.remote_images = images
        self.rendered = _render(self.raw, allow_remote_images=True)
        self.prefer_html = True
        self._fill()
        self.remote_bar.hide()

    def toggle_format(self) -> None:
        self.prefer_html = not self.prefer_html
        self._fill()

    def _fill(self) -> None:
        r = self.rendered
        if r is None:
            return
        h = r.headers
        rows = [("From", r.sender_view)] + [(k, h[k]) for k in ("To", "Cc", "Reply-To", "Date") if h.get(k)]
        table = "".join(
            f"<tr><td style='color:{muted(self)};padding-right:8px'>{k}:</td><td>{html.escape(_short(v))}</td></tr>"
            for k, v in rows
        )
        self.header_label.setText(f"<b style='font-size:larger'>{html.escape(_short(h.get('Subject') or '(no subject)'))}</b>"
                                  f"<table>{table}</table>")
        self.browser.inline_parts = r.inline_parts
        has_html = r.html is not None
        self.format_button.setEnabled(has_html)
        self.source_button.setEnabled(True)
        self.format_button.setText(self.tr("Show plain text") if self.prefer_html else self.tr("Show HTML"))
        if self.prefer_html and has_html:
            self.browser.setHtml(r.html or "")
        else:
            self.browser.setPlainText(r.text)
        if r.remote_images and not self.browser.remote_images:
            self.load_once_button.setEnabled(True)
            count = len(r.remote_images)
            images = self.tr("1 image") if count == 1 else self.tr("%1 images").replace("%1", str(count))
            self.remote_label.setText(
                self.tr("Remote content blocked: %1 from the internet not loaded, so the sender cannot see "
                        "that you read this.").replace("%1", images)
            )
            self.remote_bar.show()
        else:
            self.remote_bar.hide()
        self.problem_label.setVisible(bool(r.problems))
        self.problem_label.setText("This message is malformed; it is shown as best it can be. " + " ".join(r.problems[:3]))
        self.attachments.clear()
        for att in r.attachments:
            # The name it will be saved under: no path, no U+202E turning "fdp.exe" into "exe.pdf" on screen.
            item = QListWidgetItem(f"📎 {safe_filename(att.filename)}  ({att.content_type}, {human_size(att.size)})")
            item.setData(256, att)
            self.attachments.addItem(item)
        self.attachments.setVisible(bool(r.attachments) and not self.partial)
